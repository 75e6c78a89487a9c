; Calls that cannot be outlined into a thunk are never checkpoints:
; returns_twice calls (setjmp) and musttail calls. Their region stays in
; the caller's (a musttail callee replaces the caller's frame, so the
; caller's region is the larger of the two), and so in its callers': no
; function is checked on its own entry (its prologue has run before any
; check could). When such a call takes a function over MaxPath it is
; flagged "unchecked-call", and the calls into it are checked for its whole
; region. A cycle of musttail calls needs no check; any other cycle with no
; call that can be a checkpoint is flagged "unchecked-cycle". A
; variable-size alloca gets a check of its own, for its run-time size plus
; the rest of the function's region.
;
; RUN: %opt-capri -passes='print<capri-checkpoints>' -capri-instrument=0 -disable-output %s | FileCheck %s

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-pc-linux-gnu"

declare i32 @_setjmp(ptr) returns_twice
declare i32 @save_context(ptr) returns_twice
declare void @elsewhere(i32)

; _setjmp's measured mark (16) fits: no checkpoint, no entry check.
; CHECK-LABEL: function sj_small frame [[#F:]]
; CHECK-SAME:    entry-region [[#F+16]]{{$}}
; CHECK-NOT:   checkpoint
define i32 @sj_small(ptr %env) {
  %r = call i32 @_setjmp(ptr %env) returns_twice
  ret i32 %r
}

; Frame 2048 (1968 + 80) + setjmp's 16 exceeds 2048: flagged. The call to
; helper (136) would take the region to 2184, above what the function needs
; anyway (2064): it is a checkpoint.
; CHECK-LABEL: function sj_big frame 2048 entry-region 2064 unchecked-call returns-twice
; CHECK-NEXT:    checkpoint sj_big -> helper maxpath region 136 small
; CHECK-NOT:   checkpoint
define i32 @sj_big(ptr %env) {
  %frame = alloca [1968 x i8], align 16
  %r = call i32 @_setjmp(ptr %env) returns_twice
  call void @helper()
  ret i32 %r
}

; A returns_twice function of another file: the reserve, no checkpoint.
; CHECK-LABEL: function sj_unknown frame 80 entry-region 16464 unchecked-call returns-twice
; CHECK-NOT:   checkpoint
define internal i32 @sj_unknown(ptr %env) {
  %r = call i32 @save_context(ptr %env) returns_twice
  ret i32 %r
}

; Its caller checks the call for sj_unknown's whole region.
; CHECK-LABEL: function calls_sj frame 80 entry-region 80{{$}}
; CHECK-NEXT:    checkpoint calls_sj -> sj_unknown maxpath region 16464
; CHECK-NOT:   checkpoint
define i32 @calls_sj(ptr %env) {
  %r = call i32 @sj_unknown(ptr %env)
  ret i32 %r
}

; Recursion through such a function: the recursive call is the checkpoint,
; for the whole region.
; CHECK-LABEL: function sj_rec frame {{[0-9]+}} entry-region 16464 unchecked-call returns-twice
; CHECK-NEXT:    checkpoint sj_rec -> sj_rec cycle region 16464
; CHECK-NOT:   checkpoint
define internal i32 @sj_rec(ptr %env) {
  %r = call i32 @save_context(ptr %env) returns_twice
  %s = call i32 @sj_rec(ptr %env)
  ret i32 %s
}

; musttail into a function whose region is 3088 (3008 + 80): the caller's
; region is 3088, above MaxPath: flagged, no checkpoint.
; CHECK-LABEL: function mt frame {{[0-9]+}} entry-region 3088 unchecked-call musttail
; CHECK-NOT:   checkpoint
; CHECK-LABEL: function mt_big frame 3088 entry-region 3088
; CHECK-NEXT:    checkpoint mt_big -> helper maxpath region 136 small
define void @mt(i32 %x) {
  musttail call void @mt_big(i32 %x)
  ret void
}
define internal void @mt_big(i32 %x) {
  %frame = alloca [3008 x i8], align 16
  call void @helper()
  ret void
}

; musttail into another file: the reserve replaces the frame.
; CHECK-LABEL: function mt_ext frame {{[0-9]+}} entry-region 16384 unchecked-call musttail
; CHECK-NOT:   checkpoint
define void @mt_ext(i32 %x) {
  musttail call void @elsewhere(i32 %x)
  ret void
}

; A function that musttail-calls itself keeps its stack as it is: no
; checkpoint, no entry check.
; CHECK-LABEL: function spin frame [[#S:]]
; CHECK-SAME:    entry-region [[#S]]{{$}}
; CHECK-NOT:   checkpoint
define internal void @spin(i32 %n) {
  %done = icmp eq i32 %n, 0
  br i1 %done, label %out, label %again
again:
  %m = sub i32 %n, 1
  musttail call void @spin(i32 %m)
  ret void
out:
  ret void
}

; ping and pong musttail-call each other: a cycle of musttail calls, each
; replacing its caller's frame, so the stack does not grow around it: no
; check. pong's region is its frame (1104) and helper's 136, 1240; ping's is
; the larger of its own frame and pong's region, 1240.
; CHECK-LABEL: function start_ping frame 80 entry-region 1320{{$}}
; CHECK-NOT:   checkpoint
; CHECK-LABEL: function ping frame {{[0-9]+}} entry-region 1240{{$}}
; CHECK-NOT:   checkpoint
; CHECK-LABEL: function pong frame 1104 entry-region 1240{{$}}
; CHECK-NOT:   checkpoint
define void @start_ping() {
  call void @ping(i32 5)
  ret void
}
define internal void @ping(i32 %n) {
  %done = icmp eq i32 %n, 0
  br i1 %done, label %out, label %again
again:
  %m = sub i32 %n, 1
  musttail call void @pong(i32 %m)
  ret void
out:
  ret void
}
define internal void @pong(i32 %n) {
  %frame = alloca [1024 x i8], align 16
  call void @helper()
  musttail call void @ping(i32 %n)
  ret void
}

; The cycle h -> k -> h: h has placement turned off (so its call to k
; cannot be a checkpoint) and k musttail-calls h: h's frame stays on the
; stack each round, and nothing can check it. Both are flagged; their
; regions hold for one round.
; CHECK-LABEL: function start_h frame 80 entry-region 880{{$}}
; CHECK-NOT:   checkpoint
; CHECK:       function h frame 592 entry-region 800 no-checkpoints unchecked-cycle{{$}}
; CHECK-NOT:   checkpoint
; CHECK:       function k frame {{[0-9]+}} entry-region 208 unchecked-cycle{{$}}
; CHECK-NOT:   checkpoint
define void @start_h() {
  call void @h(i32 1)
  ret void
}
define internal void @h(i32 %n) {
  %frame = alloca [512 x i8], align 16
  call void @k(i32 %n)
  ret void
}
define internal void @k(i32 %n) {
  musttail call void @h(i32 %n)
  ret void
}
@no_checkpoints = private unnamed_addr constant [21 x i8] c"capri.no_checkpoints\00", section "llvm.metadata"
@llvm.global.annotations = appending global [1 x { ptr, ptr, ptr, i32, ptr }] [{ ptr, ptr, ptr, i32, ptr } { ptr @h, ptr @no_checkpoints, ptr null, i32 0, ptr null }], section "llvm.metadata"

; A variable-size alloca: a check before it for its size plus the rest of
; the region below it (helper's 136).
; CHECK-LABEL: function dyn frame [[#D:]]
; CHECK-SAME:    entry-region [[#D+136]]{{$}}
; CHECK-NEXT:    checkpoint dyn -> <alloca> dynamic-alloca region 136+size
; CHECK-NOT:   checkpoint
define void @dyn(i64 %n) {
  %buf = alloca i8, i64 %n, align 16
  call void @helper()
  ret void
}

; CHECK-LABEL: function helper frame 136 entry-region 136
define internal void @helper() {
  ret void
}
