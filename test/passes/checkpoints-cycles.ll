; Every call-graph cycle gets a checkpoint on one back edge: a depth-first
; walk inside each strongly connected component, from its entry (its first
; function in module order that something outside calls, else its first
; function), marks the calls that close a cycle (reason cycle). The region
; of such a checkpoint is longest(callee) once the cycles are cut.
;
; RUN: %opt-capri -passes='print<capri-checkpoints>' -capri-instrument=0 -disable-output %s | FileCheck %s
;
; Frames: every function here calls, so frame = allocas + 80.

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-pc-linux-gnu"

; Self recursion: fact -> fact is a back edge. Region: longest(fact) = its
; frame (128), as the recursive call is checked.
; CHECK-LABEL: function fact frame 128 entry-region 128
; CHECK-NEXT:    checkpoint fact -> fact cycle region 128
define internal void @fact() {
  %frame = alloca [48 x i8], align 16
  call void @fact()
  ret void
}

; Both calls of a back edge are checkpoints.
; CHECK-LABEL: function twice frame 80 entry-region 80
; CHECK-NEXT:    checkpoint twice -> twice cycle region 80
; CHECK-NEXT:    checkpoint twice -> twice cycle region 80
; CHECK-NOT:   checkpoint
define internal void @twice() {
  call void @twice()
  call void @twice()
  ret void
}

; Mutual recursion entered at odd (start calls it), although even comes
; first in the module: the walk odd -> even -> odd makes even -> odd the
; back edge. longest(even) = 96 (its only call is checked), longest(odd) =
; 112 + 96 = 208, the back edge's region; start: 80 + 208 = 288.
; CHECK-LABEL: function even frame 96 entry-region 96
; CHECK-NEXT:    checkpoint even -> odd cycle region 208
; CHECK-NEXT:  function odd frame 112 entry-region 208
; CHECK-NEXT:  function start frame 80 entry-region 288
; CHECK-NOT:   checkpoint
define internal void @even() {
  %frame = alloca [16 x i8], align 16
  call void @odd()
  ret void
}
define internal void @odd() {
  %frame = alloca [32 x i8], align 16
  call void @even()
  ret void
}
define void @start() {
  call void @odd()
  ret void
}

; Two cycles in one component {p, q, r}, nobody outside calls it: the walk
; starts at p. p -> q; q -> p closes p-q-p; q -> r; r -> q closes q-r-q.
; longest(r) = 112, longest(q) = 96 + 112 = 208, longest(p) = 80 + 208 =
; 288: q -> p's region is 288, r -> q's 208.
; CHECK-LABEL: function p frame 80 entry-region 288
; CHECK-NEXT:  function q frame 96 entry-region 208
; CHECK-NEXT:    checkpoint q -> p cycle region 288
; CHECK-NEXT:  function r frame 112 entry-region 112
; CHECK-NEXT:    checkpoint r -> q cycle region 208
; CHECK-NOT:   checkpoint
define internal void @p() {
  call void @q()
  ret void
}
define internal void @q() {
  %frame = alloca [16 x i8], align 16
  call void @p()
  call void @r()
  ret void
}
define internal void @r() {
  %frame = alloca [32 x i8], align 16
  call void @q()
  ret void
}
