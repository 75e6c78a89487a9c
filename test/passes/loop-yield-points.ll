; Loop yield points (docs/plugin.md, "Loop yield points"): one check of the
; preemption bit of the limit word per loop, at the header after the phis
; (a volatile i8 load from %fs:0x77, bit 0x40, an unlikely branch to a cold
; block that calls the weak preserve_all stub __capri_loop_yield); one per
; chunk of iterations for call-free counted loops (loop-chunks.ll); and the
; cases that get none.
;
; RUN: %opt-capri -passes=capri-loop-yield -S %s | FileCheck %s
; RUN: %opt-capri -passes=capri-loop-yield %s | llc -O2 -o - | FileCheck %s --check-prefix=ASM
; RUN: %opt-capri -passes=capri-loop-yield -capri-loop-yield-points=0 -S %s | FileCheck %s --check-prefix=OFF
; RUN: %opt-capri -passes=capri-loop-yield -capri-loop-min-trip=8 -capri-loop-chunk-work=64 -S %s | FileCheck %s --check-prefix=MIN8
; RUN: %opt-capri -passes=capri-loop-yield -capri-instrument=0 -S %s | FileCheck %s --check-prefix=NOINST
; RUN: %opt-capri -passes=capri-loop-yield -pass-remarks=capri-loop-yield -pass-remarks-missed=capri-loop-yield -disable-output %s 2>&1 | FileCheck %s --check-prefix=REMARK
; The whole pipeline: the cold call is no checkpoint.
; RUN: %opt-capri -passes='capri-loop-yield,print<capri-checkpoints>' -disable-output %s | FileCheck %s --check-prefix=PLACE

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-pc-linux-gnu"

@.str = private unnamed_addr constant [22 x i8] c"capri.no_yield_points\00", section "llvm.metadata"
@.file = private unnamed_addr constant [2 x i8] c"t\00", section "llvm.metadata"
@llvm.global.annotations = appending global [1 x { ptr, ptr, ptr, i32, ptr }] [{ ptr, ptr, ptr, i32, ptr } { ptr @annotated, ptr @.str, ptr @.file, i32 1, ptr null }], section "llvm.metadata"

declare void @work(i64)
define internal void @leaf(i64 %x) noinline {
  ret void
}
declare void @capri_yield()
declare void @capri_no_yield_here()

; OFF-NOT: @__capri_loop_yield
; OFF-NOT: capri_no_yield_here

; A loop whose trip count scalar evolution cannot compute (it ends at a
; zero element): the check at its header.
; CHECK-LABEL: define i64 @sum(
; CHECK:       loop:
; CHECK-NEXT:    %i = phi i64
; CHECK-NEXT:    %s = phi i64
; CHECK-NEXT:    %capri.preempt = load volatile i8, ptr addrspace(257) inttoptr (i64 119 to ptr addrspace(257)), align 1
; CHECK-NEXT:    [[BIT:%.*]] = and i8 %capri.preempt, 64
; CHECK-NEXT:    %capri.asked = icmp ne i8 [[BIT]], 0
; CHECK-NEXT:    br i1 %capri.asked, label %loop.capri.yield, label %loop.capri.body, !prof [[UNLIKELY:![0-9]+]]
; CHECK:       loop.capri.yield:
; CHECK-NEXT:    call preserve_allcc void @__capri_loop_yield.local()
; CHECK-NEXT:    br label %loop.capri.body
; CHECK:       loop.capri.body:
; CHECK:         br i1 %done, label %exit, label %loop
; ASM-LABEL: sum:
; ASM:         testb $64, %fs:119
; ASM-NEXT:    jne
; ASM:         callq __capri_loop_yield.local
; ASM-LABEL: __capri_loop_yield.local:
; ASM-NEXT:  # %bb.0:
; ASM-NEXT:    jmpq *__capri_loop_yield@GOTPCREL(%rip)
; OFF-LABEL: define i64 @sum(
; OFF-NOT:     capri
; OFF:         ret i64
define i64 @sum(ptr %a, i64 %n) {
entry:
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i.next, %loop ]
  %s = phi i64 [ 0, %entry ], [ %s.next, %loop ]
  %p = getelementptr i64, ptr %a, i64 %i
  %v = load i64, ptr %p
  %s.next = add i64 %s, %v
  %i.next = add i64 %i, 1
  %done = icmp eq i64 %v, 0
  br i1 %done, label %exit, label %loop
exit:
  ret i64 %s.next
}

; 16 iterations and no calls: none (below -capri-loop-min-trip, 64).
; CHECK-LABEL: define i64 @short(
; CHECK-NOT:   capri
; CHECK:       ret i64
; MIN8-LABEL:  define i64 @short(
; MIN8:        call preserve_allcc void @__capri_loop_yield.local()
define i64 @short(ptr %a) {
entry:
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i.next, %loop ]
  %s = phi i64 [ 0, %entry ], [ %s.next, %loop ]
  %p = getelementptr i64, ptr %a, i64 %i
  %v = load i64, ptr %p
  %s.next = add i64 %s, %v
  %i.next = add i64 %i, 1
  %done = icmp eq i64 %i.next, 16
  br i1 %done, label %exit, label %loop
exit:
  ret i64 %s.next
}

; 16 iterations with a call: the callee may run long, so the check stays.
; CHECK-LABEL: define void @short_with_call(
; CHECK:       call preserve_allcc void @__capri_loop_yield.local()
define void @short_with_call() {
entry:
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i.next, %loop ]
  call void @leaf(i64 %i)
  %i.next = add i64 %i, 1
  %done = icmp eq i64 %i.next, 16
  br i1 %done, label %exit, label %loop
exit:
  ret void
}

; capri_yield on every iteration: none.
; CHECK-LABEL: define void @yields(
; CHECK-NOT:   __capri_loop_yield
; CHECK:       ret void
define void @yields(ptr %flag) {
entry:
  br label %loop
loop:
  call void @capri_yield()
  %f = load volatile i32, ptr %flag
  %stop = icmp eq i32 %f, 0
  br i1 %stop, label %exit, label %loop
exit:
  ret void
}

; capri_yield on some iterations only: the check stays.
; CHECK-LABEL: define void @yields_sometimes(
; CHECK:       call preserve_allcc void @__capri_loop_yield.local()
define void @yields_sometimes(ptr %flag, i1 %c) {
entry:
  br label %loop
loop:
  br i1 %c, label %y, label %latch
y:
  call void @capri_yield()
  br label %latch
latch:
  %f = load volatile i32, ptr %flag
  %stop = icmp eq i32 %f, 0
  br i1 %stop, label %exit, label %loop
exit:
  ret void
}

; capri_no_yield_here() in the inner loop: the call is deleted, the inner
; loop has no check, the outer loop keeps its own.
; CHECK-LABEL: define void @quiet(
; CHECK:       outer:
; CHECK:         call preserve_allcc void @__capri_loop_yield.local()
; CHECK:       inner:
; CHECK-NOT:     __capri_loop_yield
; CHECK-NOT:     capri_no_yield_here
; CHECK:       ret void
; OFF-LABEL:   define void @quiet(
; OFF-NOT:     capri_no_yield_here
; OFF:         ret void
define void @quiet(i64 %n) {
entry:
  br label %outer
outer:
  %j = phi i64 [ 0, %entry ], [ %j.next, %outer.latch ]
  br label %inner
inner:
  %i = phi i64 [ 0, %outer ], [ %i.next, %inner ]
  call void @capri_no_yield_here()
  %i.next = add i64 %i, 1
  %idone = icmp eq i64 %i.next, %n
  br i1 %idone, label %outer.latch, label %inner
outer.latch:
  call void @leaf(i64 %j)
  %j.next = add i64 %j, 1
  %done = icmp eq i64 %j.next, %n
  br i1 %done, label %exit, label %outer
exit:
  ret void
}

; annotate("capri.no_yield_points"): none in the whole function.
; CHECK-LABEL: define void @annotated(
; CHECK-NOT:   __capri_loop_yield
; CHECK:       ret void
define void @annotated(i64 %n) {
entry:
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i.next, %loop ]
  call void @work(i64 %i)
  %i.next = add i64 %i, 1
  %done = icmp eq i64 %i.next, %n
  br i1 %done, label %exit, label %loop
exit:
  ret void
}

; An irreducible cycle (two entries): no natural loop, so the check goes
; on its back edge, split off as a block of its own when it is critical.
; CHECK-LABEL: define void @irreducible(
; CHECK:       b.a_crit_edge.capri.yield:
; CHECK-NEXT:    call preserve_allcc void @__capri_loop_yield.local()
define void @irreducible(i1 %c, i64 %n) {
entry:
  br i1 %c, label %a, label %b
a:
  %x = phi i64 [ 0, %entry ], [ %y.next, %b ]
  %x.next = add i64 %x, 1
  br label %b
b:
  %y = phi i64 [ 0, %entry ], [ %x.next, %a ]
  call void @leaf(i64 %y)
  %y.next = add i64 %y, 1
  %stop = icmp eq i64 %y.next, %n
  br i1 %stop, label %exit, label %a
exit:
  ret void
}

; A call into another file on every iteration: its checkpoint compares with
; the same limit word, and its slow path takes the preemption, so the loop
; needs no check of its own. The call is marked, and stays a checkpoint.
; CHECK-LABEL: define void @calls_out(
; CHECK-NOT:   __capri_loop_yield
; CHECK:       call void @work(i64 %i), !capri.checkpoint
; CHECK:       ret void
; PLACE-LABEL: function calls_out
; PLACE-NEXT:  checkpoint calls_out -> work cross-file
define void @calls_out(i64 %n) {
entry:
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i.next, %loop ]
  call void @work(i64 %i)
  %i.next = add i64 %i, 1
  %done = icmp eq i64 %i.next, %n
  br i1 %done, label %exit, label %loop
exit:
  ret void
}

; A marked call stays a checkpoint, here one the placement would not need.
; PLACE-LABEL: function marked
; PLACE-NEXT:  checkpoint marked -> leaf forced
define void @marked(i64 %n) {
entry:
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i.next, %loop ]
  call void @leaf(i64 %i), !capri.checkpoint !0
  %i.next = add i64 %i, 1
  %done = icmp eq i64 %i.next, %n
  br i1 %done, label %exit, label %loop
exit:
  ret void
}
!0 = !{}

; Without instrumentation there is no checkpoint to rely on.
; NOINST-LABEL: define void @calls_out(
; NOINST:       call preserve_allcc void @__capri_loop_yield.local()

; No loop, no check.
; CHECK-LABEL: define void @straight(
; CHECK-NOT:   __capri_loop_yield
; CHECK:       ret void
define void @straight() {
  call void @work(i64 1)
  ret void
}

; The cold calls go to a local trampoline, which jumps on through the GOT
; (bound at load time, no lazy-binding resolver on the loop's stack).
; CHECK: declare extern_weak preserve_allcc void @__capri_loop_yield() #[[DECL:[0-9]+]]
; CHECK: define internal preserve_allcc void @__capri_loop_yield.local() #[[LOCAL:[0-9]+]] {
; CHECK-NEXT:  musttail call preserve_allcc void @__capri_loop_yield()
; CHECK-NEXT:  ret void
; CHECK-NOT: declare void @capri_no_yield_here
; CHECK: attributes #[[DECL]] = { nounwind nonlazybind }
; CHECK: attributes #[[LOCAL]] = { cold noinline nounwind "capri-thunk" }
; CHECK: [[UNLIKELY]] = !{!"branch_weights", {{.*}}i32 1, i32 {{[0-9]+}}}

; REMARK-DAG: remark: <unknown>:0:0: loop yield point
; REMARK-DAG: remark: <unknown>:0:0: no loop yield point: the checkpoint on a call that runs on every iteration checks for preemption
; REMARK-DAG: remark: <unknown>:0:0: no loop yield point: at most 16 iterations and no calls
; REMARK-DAG: remark: <unknown>:0:0: no loop yield point: a call through the scheduler runs on every iteration
; REMARK-DAG: remark: <unknown>:0:0: no loop yield point: the loop calls capri_no_yield_here()
; REMARK-DAG: remark: <unknown>:0:0: no loop yield point: annotated is annotated capri.no_yield_points


; PLACE-NOT: -> __capri_loop_yield
; PLACE-NOT: function __capri_loop_yield
