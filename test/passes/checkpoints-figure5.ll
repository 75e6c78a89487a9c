; Capriccio's Figure 5 (von Behren et al., SOSP 2003): checkpoint placement
; on a small call graph with MaxPath = 1 KiB.
;
; RUN: %opt-capri -passes='print<capri-checkpoints>' -capri-instrument=0 -capri-max-path=1024 -disable-output %s | FileCheck %s
; RUN: %opt-capri -passes='print<capri-checkpoints>' -capri-instrument=0 -capri-max-path=2048 -disable-output %s | FileCheck %s --check-prefix=MP2048
; RUN: %opt-capri -passes='print<capri-checkpoints>' -capri-instrument=0 -capri-max-path=512 -disable-output %s | FileCheck %s --check-prefix=MP512
; RUN: %opt-capri -passes='print<capri-checkpoints>' -capri-instrument=0 -capri-max-path=2048 -capri-slack=700 -disable-output %s | FileCheck %s --check-prefix=SLACK
;
; Frames (KiB): Main 0.5, A 0.8, B 1, C 0.2, D 0.2, E 0.2; E -> C closes a
; cycle. The edges used here (the graph of the figure as reconstructed for
; this test; the expected result below is computed by hand from the
; placement rules, not copied from the paper):
;
;   Main -> A, Main -> B, Main -> D
;   A -> C, A -> E
;   B -> C
;   C -> D, D -> E, E -> C
;
; Frames are made exact with one alloca each: every function here calls, so
; its frame bound is allocas + 80 (return address 8, six callee-saved
; registers 48, call alignment 8, -capri-frame-margin 16). Frames are
; multiples of 16, so 0.8 KiB (819.2 bytes) becomes 816 and 0.2 KiB (204.8)
; 208; no decision below changes with the exact fractions (A -> E is
; 816 + 208 = 1024 here and 819.2 + 204.8 = 1024 there: both fit).
;
;   Main 512 = 432 + 80    A 816 = 736 + 80    B 1024 = 944 + 80
;   C 208 = 128 + 80       D 208               E 208
;
; By hand:
; 1. Cycles. The only strongly connected component is {C, D, E}. Its entry
;    is C, its first function in module order that is called from outside
;    (by A and B). The walk C -> D -> E -> C meets C on the stack: E -> C
;    is a back edge, a checkpoint (cycle). The rest is a DAG.
; 2. MaxPath, bottom-up (longest(f) = frame(f) + the largest longest(s)
;    over unchecked callees; an edge n->s is checked when
;    frame(n) + longest(s) > 1024):
;      E: no unchecked callee                 longest(E) = 208
;      D: D->E 208 + 208 = 416   fits         longest(D) = 416
;      C: C->D 208 + 416 = 624   fits         longest(C) = 624
;      A: largest first: A->C 816 + 624 = 1440 > 1024  checkpoint
;                        A->E 816 + 208 = 1024 fits    longest(A) = 1024
;      B: B->C 1024 + 624 = 1648 > 1024       checkpoint longest(B) = 1024
;      Main: A and B tie at 1024, in call order:
;            Main->A 512 + 1024 = 1536        checkpoint
;            Main->B 512 + 1024 = 1536        checkpoint
;            Main->D 512 + 416  = 928  fits   longest(Main) = 928
;    The region of a checkpoint is longest(callee); E -> C's is
;    longest(C) = 624.
; Five checkpoints; the thread that starts in Main needs a first chunk of
; 928 bytes.
;
; MaxPath 2048 (the default): E -> C as before (region 624). A: 816 + 624 =
; 1440 fits; B: 1024 + 624 = 1648 fits. Main, largest first: Main->B
; 512 + 1648 = 2160 > 2048, checkpoint; then Main->A 512 + 1440 = 1952 and
; Main->D 928 fit: longest(Main) = 1952. Cutting the largest edge alone
; brought Main under MaxPath.
;
; MaxPath 512: E 208; D->E 416 fits (longest(D) = 416); C->D 208 + 416 =
; 624 > 512, checkpoint (longest(C) = 208); A's and B's frames alone exceed
; 512, so each of their calls is checked (A->C, A->E, B->C, regions 208);
; Main 512 + anything > 512: Main->A (816), Main->B (1024), Main->D (416).
; E -> C's region is now longest(C) = 208. A region within the slack (256
; by default) is marked "small": its check needs no subtraction.

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-pc-linux-gnu"

; CHECK:      capri checkpoints of {{.*}} (max-path 1024,
; CHECK-NEXT: function Main frame 512 entry-region 928
; CHECK-NEXT:   checkpoint Main -> A maxpath region 1024
; CHECK-NEXT:   checkpoint Main -> B maxpath region 1024
; CHECK-NEXT: function A frame 816 entry-region 1024
; CHECK-NEXT:   checkpoint A -> C maxpath region 624
; CHECK-NEXT: function B frame 1024 entry-region 1024
; CHECK-NEXT:   checkpoint B -> C maxpath region 624
; CHECK-NEXT: function C frame 208 entry-region 624
; CHECK-NEXT: function D frame 208 entry-region 416
; CHECK-NEXT: function E frame 208 entry-region 208
; CHECK-NEXT:   checkpoint E -> C cycle region 624
; CHECK-NOT:  checkpoint

; MP2048:      function Main frame 512 entry-region 1952
; MP2048-NEXT:   checkpoint Main -> B maxpath region 1648
; MP2048-NEXT: function A frame 816 entry-region 1440
; MP2048-NEXT: function B frame 1024 entry-region 1648
; MP2048-NEXT: function C frame 208 entry-region 624
; MP2048-NEXT: function D frame 208 entry-region 416
; MP2048-NEXT: function E frame 208 entry-region 208
; MP2048-NEXT:   checkpoint E -> C cycle region 624{{$}}
; MP2048-NOT:  checkpoint

; MP512:      function Main frame 512 entry-region 512
; MP512-NEXT:   checkpoint Main -> A maxpath region 816
; MP512-NEXT:   checkpoint Main -> B maxpath region 1024
; MP512-NEXT:   checkpoint Main -> D maxpath region 416
; MP512-NEXT: function A frame 816 entry-region 816
; MP512-NEXT:   checkpoint A -> C maxpath region 208 small
; MP512-NEXT:   checkpoint A -> E maxpath region 208 small
; MP512-NEXT: function B frame 1024 entry-region 1024
; MP512-NEXT:   checkpoint B -> C maxpath region 208 small
; MP512-NEXT: function C frame 208 entry-region 208
; MP512-NEXT:   checkpoint C -> D maxpath region 416
; MP512-NEXT: function D frame 208 entry-region 416
; MP512-NEXT: function E frame 208 entry-region 208
; MP512-NEXT:   checkpoint E -> C cycle region 208 small
; MP512-NOT:  checkpoint

; SLACK: (max-path 2048, slack 700,
; SLACK: checkpoint Main -> B maxpath region 1648{{$}}
; SLACK: checkpoint E -> C cycle region 624 small

define void @Main() {
  %frame = alloca [432 x i8], align 16
  call void @A()
  call void @B()
  call void @D()
  ret void
}

define internal void @A() {
  %frame = alloca [736 x i8], align 16
  call void @C()
  call void @E()
  ret void
}

define internal void @B() {
  %frame = alloca [944 x i8], align 16
  call void @C()
  ret void
}

define internal void @C() {
  %frame = alloca [128 x i8], align 16
  call void @D()
  ret void
}

define internal void @D() {
  %frame = alloca [128 x i8], align 16
  call void @E()
  ret void
}

define internal void @E() {
  %frame = alloca [128 x i8], align 16
  call void @C()
  ret void
}
