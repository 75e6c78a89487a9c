; At a full-LTO link the module is the whole program: no call goes to
; another file (a declaration is a library: external), and an indirect call
; resolved among the module's functions is an ordinary edge to them, placed
; by the cycle and MaxPath rules like a direct call. An indirect call that
; stays unresolved is still an indirect checkpoint. The module flags of a
; full-LTO compile mark the module; placement only runs on such a module at
; the link (the pre-link compile neither reports nor instruments).
;
; RUN: %opt-capri -passes='print<capri-checkpoints>' -capri-instrument=0 -disable-output %s | FileCheck %s
;
; Without the flags, the same calls are cross-file and indirect:
; RUN: sed -e '/^!llvm.module.flags/d' %s > %t.ll
; RUN: %opt-capri -passes='print<capri-checkpoints>' -capri-instrument=0 -disable-output %t.ll | FileCheck %s --check-prefix=FILE

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-pc-linux-gnu"

declare void @parse_config(ptr)

@small_ptr = global ptr @small_cb
@big_ptr = global ptr @big_cb
@visit_ptr = global ptr @visit

; CHECK: capri checkpoints of {{.*}}, whole program)
; FILE-NOT: whole program

; CHECK-LABEL: function cfg
; CHECK-NEXT:    checkpoint cfg -> parse_config external region 16384
; FILE-LABEL:  function cfg
; FILE-NEXT:     checkpoint cfg -> parse_config cross-file region 16384
define void @cfg(ptr %p) {
  call void @parse_config(ptr %p)
  ret void
}

; Resolved to small_cb (frame 96): an edge; 80 + 96 fits.
; CHECK-LABEL: function resolved frame 80 entry-region 176
; CHECK-NOT:   checkpoint
; FILE-LABEL:  function resolved frame 80 entry-region 80
; FILE-NEXT:     checkpoint resolved -> <indirect ir-type {{.*}}> {small_cb} indirect region 16384
define void @resolved() {
  %fp = load ptr, ptr @small_ptr
  call void %fp(i32 1)
  ret void
}

; Resolved to big_cb (frame 2080): 80 + 2080 > 2048, a maxpath checkpoint
; whose callee set is {big_cb}.
; CHECK-LABEL: function resolved_big frame 80 entry-region 80
; CHECK-NEXT:    checkpoint resolved_big -> <indirect ir-type {{.*}}> {big_cb} maxpath region 2080
define void @resolved_big() {
  %fp = load ptr, ptr @big_ptr
  call void %fp(i64 1)
  ret void
}

; CHECK-LABEL: function unresolved
; CHECK-NEXT:    checkpoint unresolved -> <indirect ir-type {{.*}}> indirect region 16384
define void @unresolved(ptr %fp) {
  call void %fp(double 1.0)
  ret void
}

; A cycle through an indirect call: main -> walker -(indirect)-> visit ->
; walker. The component {walker, visit} is entered at walker; the walk
; walker -> visit -> walker makes visit -> walker the back edge.
; CHECK-LABEL: function main
; CHECK-NOT:   checkpoint
; CHECK-LABEL: function walker frame 80 entry-region 176
; CHECK-NOT:   checkpoint
; CHECK-LABEL: function visit frame 96 entry-region 96
; CHECK-NEXT:    checkpoint visit -> walker cycle region 176
define void @main() {
  call void @walker()
  ret void
}
define internal void @walker() {
  %fp = load ptr, ptr @visit_ptr
  call void %fp(i16 3)
  ret void
}
define internal void @visit(i16 %x) {
  %frame = alloca [16 x i8], align 16
  call void @walker()
  ret void
}

define internal void @small_cb(i32 %x) {
  %frame = alloca [16 x i8], align 16
  call void @parse_config(ptr null)
  ret void
}
define internal void @big_cb(i64 %x) {
  %frame = alloca [2000 x i8], align 16
  call void @parse_config(ptr null)
  ret void
}

!llvm.module.flags = !{!0, !1}
!0 = !{i32 1, !"EnableSplitLTOUnit", i32 1}
!1 = !{i32 1, !"ThinLTO", i32 0}
