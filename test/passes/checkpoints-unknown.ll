; Calls whose region the module cannot bound are checkpoints with a reserve
; as their region: calls into other files (cross-file), into code without
; metadata (external: LibcStackMarks.def's mark, else the reserve) and
; indirect calls (indirect: in one file of many, a target may be defined in
; another file, so even a call resolved among this module's functions gets
; the reserve, or its targets' region if larger). An external call whose
; measured mark is small is no checkpoint unless the path exceeds MaxPath.
;
; RUN: %opt-capri -passes='print<capri-checkpoints>' -capri-instrument=0 -disable-output %s | FileCheck %s
; RUN: %opt-capri -passes='print<capri-checkpoints>' -capri-instrument=0 -capri-external-reserve=4096 -disable-output %s | FileCheck %s --check-prefix=RESERVE

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-pc-linux-gnu"

declare void @parse_config(ptr)
declare i32 @printf(ptr, ...)
declare i32 @__printf_chk(i32, ptr, ...)
declare ptr @malloc(i64)
declare void @llvm.memcpy.p0.p0.i64(ptr, ptr, i64, i1)

@fmt = private constant [4 x i8] c"%d\0A\00"
@handler = global ptr @on_event

; CHECK: capri checkpoints of {{.*}} (max-path 2048, slack 256, min-chunk 4096, external-reserve 16384)
; RESERVE: (max-path 2048, slack 256, min-chunk 4096, external-reserve 4096)

; A function another file defines (a name not reserved to the C library
; and not a library function LLVM knows).
; CHECK-LABEL: function cross
; CHECK-NEXT:    checkpoint cross -> parse_config cross-file region 16384
; RESERVE-LABEL: function cross
; RESERVE-NEXT:    checkpoint cross -> parse_config cross-file region 4096
define void @cross(ptr %p) {
  call void @parse_config(ptr %p)
  ret void
}

; A weak definition may be replaced at link time by another file's.
; CHECK-LABEL: function weak_caller
; CHECK-NEXT:    checkpoint weak_caller -> weak_fn cross-file region 16384
define void @weak_caller() {
  call void @weak_fn()
  ret void
}
define weak void @weak_fn() {
  ret void
}

; C++: a mangled name is another file's function unless it is the standard
; library's (namespace std).
; CHECK-LABEL: function cxx
; CHECK-NEXT:    checkpoint cxx -> _ZN6parser5parseEv cross-file region 16384
; CHECK-NEXT:    checkpoint cxx -> _ZNSt6thread4joinEv external region 16384
; CHECK-NEXT:    checkpoint cxx -> _ZNKSt9exception4whatEv external region 16384
define void @cxx(ptr %t) {
  call void @_ZN6parser5parseEv()
  call void @_ZNSt6thread4joinEv(ptr %t)
  %w = call ptr @_ZNKSt9exception4whatEv(ptr %t)
  ret void
}
declare void @_ZN6parser5parseEv()
declare void @_ZNSt6thread4joinEv(ptr)
declare ptr @_ZNKSt9exception4whatEv(ptr)

; libc without a measured mark (printf's stack depends on its format), and
; a name reserved to the implementation: the reserve.
; CHECK-LABEL: function ext
; CHECK-NEXT:    checkpoint ext -> printf external region 16384
; CHECK-NEXT:    checkpoint ext -> __printf_chk external region 16384
; RESERVE-LABEL: function ext
; RESERVE-NEXT:    checkpoint ext -> printf external region 4096
; RESERVE-NEXT:    checkpoint ext -> __printf_chk external region 4096
define void @ext(i32 %x) {
  %r = call i32 (ptr, ...) @printf(ptr @fmt, i32 %x)
  %e = call i32 (i32, ptr, ...) @__printf_chk(i32 1, ptr @fmt, i32 %x)
  ret void
}

; malloc's measured mark (344) and memcpy's (8, a copy of variable size is
; a call) fit under MaxPath: no checkpoint, the marks count in the region.
; CHECK-LABEL: function small_malloc frame [[#F:]]
; CHECK-SAME:    entry-region [[#F+344]]{{$}}
; CHECK-NOT:   checkpoint
define ptr @small_malloc(ptr %d, ptr %s, i64 %n) {
  call void @llvm.memcpy.p0.p0.i64(ptr %d, ptr %s, i64 %n, i1 false)
  %p = call ptr @malloc(i64 16)
  ret ptr %p
}

; With a frame of 1808 (1728 + 80), malloc's 344 exceeds 2048: an external
; checkpoint with the mark as its region.
; CHECK-LABEL: function big_malloc frame 1808 entry-region 1808
; CHECK-NEXT:    checkpoint big_malloc -> malloc external region 344
define ptr @big_malloc() {
  %frame = alloca [1728 x i8], align 16
  %p = call ptr @malloc(i64 16)
  ret ptr %p
}

; No function of this module has the call's type: unresolved.
; CHECK-LABEL: function unresolved
; CHECK-NEXT:    checkpoint unresolved -> <indirect ir-type 0x{{[0-9a-f]+}}> indirect region 16384
define void @unresolved(ptr %fp) {
  call void %fp(i64 1, i64 2)
  ret void
}

; on_event has the call's type and its address is taken: the call may reach
; it, or a function of another file. The region is the larger of the
; reserve and on_event's: here on_event's frame (16464) is larger.
; CHECK-LABEL: function resolved
; CHECK-NEXT:    checkpoint resolved -> <indirect ir-type 0x{{[0-9a-f]+}}> {on_event} indirect region 16464
; RESERVE-LABEL: function resolved
; RESERVE-NEXT:    checkpoint resolved -> <indirect ir-type 0x{{[0-9a-f]+}}> {on_event} indirect region 16464
define void @resolved() {
  %fp = load ptr, ptr @handler
  call void %fp(i32 7)
  ret void
}
; A frame alone above MaxPath: each of its calls is a checkpoint.
; CHECK-LABEL: function on_event frame 16464 entry-region 16464
; CHECK-NEXT:    checkpoint on_event -> on_event_helper maxpath region 136 small
define internal void @on_event(i32 %x) {
  %frame = alloca [16384 x i8], align 16
  call void @on_event_helper()
  ret void
}
define internal void @on_event_helper() {
  ret void
}
