; Call-free counted loops get one check per chunk of iterations (docs/
; plugin.md, "Loop yield points"; passes/LoopChunking.h): the exit compare
; becomes a compare with the chunk's end (a header phi), and the chunk exit
; either leaves the loop (fewer than K back edges were left) or starts the
; next chunk after the check. K = -capri-loop-chunk-work / loop size.
;
; RUN: %opt-capri -passes=capri-loop-yield,verify -S %s | FileCheck %s
; RUN: %opt-capri -passes=capri-loop-yield -pass-remarks=capri-loop-yield -pass-remarks-missed=capri-loop-yield -disable-output %s 2>&1 | FileCheck %s --check-prefix=REMARK
; The chunks shrink with the work per chunk.
; RUN: %opt-capri -passes=capri-loop-yield -capri-loop-chunk-work=600 -S %s | FileCheck %s --check-prefix=SMALL
; The result still compiles to a loop whose iteration is what it was: a
; compare with a register and a branch.
; RUN: %opt-capri -passes=capri-loop-yield %s | llc -O2 -o - | FileCheck %s --check-prefix=ASM

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-pc-linux-gnu"

; Up to %n (exit when X == Bound): 6 instructions, K = 65536 / 6 = 10922;
; the last chunk ends at %n itself.
; CHECK-LABEL: define i64 @counted(
; CHECK:       entry:
; CHECK-NEXT:    [[BTC:%.*]] = add i64 %n, -1
; CHECK-NEXT:    %capri.chunk.long = icmp uge i64 [[BTC]], 10922
; CHECK-NEXT:    %capri.chunk.end0 = select i1 %capri.chunk.long, i64 10922, i64 %n
; CHECK:       loop:
; CHECK:         %capri.chunk.end = phi i64 [ %capri.chunk.end0, %entry ], [ %capri.chunk.end, %loop ], [ %capri.chunk.end.next, %loop.capri.next ]
; CHECK:         %capri.chunk.left = phi i64 [ [[BTC]], %entry ], [ %capri.chunk.left, %loop ], [ %capri.chunk.left.next, %loop.capri.next ]
; CHECK-NOT:     capri.preempt
; CHECK:         %capri.chunk.done = icmp eq i64 %i.next, %capri.chunk.end
; CHECK-NEXT:    br i1 %capri.chunk.done, label %loop.capri.chunk, label %loop, !prof
; CHECK:       loop.capri.chunk:
; CHECK-NEXT:    %capri.chunk.last = icmp ult i64 %capri.chunk.left, 10922
; CHECK-NEXT:    br i1 %capri.chunk.last, label %exit, label %loop.capri.next
; CHECK:       loop.capri.next:
; CHECK-NEXT:    %capri.chunk.left.next = sub i64 %capri.chunk.left, 10922
; CHECK-NEXT:    %capri.chunk.long.next = icmp uge i64 %capri.chunk.left.next, 10922
; CHECK-NEXT:    %capri.chunk.far = add i64 %i.next, 10922
; CHECK-NEXT:    %capri.chunk.end.next = select i1 %capri.chunk.long.next, i64 %capri.chunk.far, i64 %n
; CHECK-NEXT:    %capri.preempt = load volatile i8, ptr addrspace(257) inttoptr (i64 119 to ptr addrspace(257))
; CHECK:         br i1 %capri.asked, label %loop.capri.next.capri.yield, label %loop
; CHECK:       exit:
; CHECK-NEXT:    ret i64 %s.next
; SMALL-LABEL: define i64 @counted(
; SMALL:         %capri.chunk.long = icmp uge i64 {{.*}}, 100
; ASM-LABEL:   counted:
; ASM:         .LBB0_[[LOOP:[0-9]+]]: # %loop
; ASM-NEXT:      # =>This Inner Loop Header
; ASM-NEXT:      addq (%rdi,%r{{.*}},8), %rax
; ASM-NEXT:      incq
; ASM-NEXT:      cmpq
; ASM-NEXT:      jne .LBB0_[[LOOP]]
define i64 @counted(ptr %a, i64 %n) {
entry:
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i.next, %loop ]
  %s = phi i64 [ 0, %entry ], [ %s.next, %loop ]
  %p = getelementptr i64, ptr %a, i64 %i
  %v = load i64, ptr %p
  %s.next = add i64 %s, %v
  %i.next = add i64 %i, 1
  %done = icmp eq i64 %i.next, %n
  br i1 %done, label %exit, label %loop
exit:
  ret i64 %s.next
}

; Down by 3 while positive (signed, no wrap): the last chunk ends at X's
; value on the last iteration, computed before the loop; the loop is
; entered from a block that also branches to the exit, so it gets a
; preheader of its own.
; CHECK-LABEL: define i32 @down_sgt(
; CHECK:       loop.preheader:
; CHECK:         %capri.chunk.end0 = select i1 %capri.chunk.long, i32 %capri.chunk.first, i32 [[LAST:%.*]]
; CHECK:         %capri.chunk.done = icmp eq i32 %i.next, %capri.chunk.end
; CHECK:         %capri.chunk.far = add i32 %i.next, -49152
; CHECK-NEXT:    %capri.chunk.end.next = select i1 %capri.chunk.long.next, i32 %capri.chunk.far, i32 [[LAST]]
; CHECK:       exit:
; CHECK-NEXT:    %r = phi i32 [ 0, %entry ], [ %s.next, %loop.capri.chunk ]
define i32 @down_sgt(ptr %a, i32 %n, i1 %c) {
entry:
  br i1 %c, label %loop, label %exit
loop:
  %i = phi i32 [ %n, %entry ], [ %i.next, %loop ]
  %s = phi i32 [ 0, %entry ], [ %s.next, %loop ]
  %s.next = xor i32 %s, %i
  %i.next = add nsw i32 %i, -3
  %more = icmp sgt i32 %i.next, 0
  br i1 %more, label %loop, label %exit
exit:
  %r = phi i32 [ 0, %entry ], [ %s.next, %loop ]
  ret i32 %r
}

; The same without nsw: X may wrap round and come back to its last value
; early, so the check stays on every iteration.
; CHECK-LABEL: define i32 @down_wraps(
; CHECK:       loop:
; CHECK:         {{%capri.preempt[0-9]*}} = load volatile i8
; CHECK:         %more = icmp sgt i32 %i.next, 0
define i32 @down_wraps(ptr %a, i32 %n) {
entry:
  br label %loop
loop:
  %i = phi i32 [ %n, %entry ], [ %i.next, %loop ]
  %s = phi i32 [ 0, %entry ], [ %s.next, %loop ]
  %s.next = xor i32 %s, %i
  %i.next = add i32 %i, -3
  %more = icmp sgt i32 %i.next, 0
  br i1 %more, label %loop, label %exit
exit:
  ret i32 %s.next
}

; A pointer walked to an end pointer: the chunk's end is a pointer too.
; CHECK-LABEL: define i64 @pointers(
; CHECK:         %capri.chunk.end0 = select i1 %capri.chunk.long, ptr %capri.chunk.first, ptr %end
; CHECK:         %capri.chunk.done = icmp eq ptr %p.next, %capri.chunk.end
; CHECK:         %capri.chunk.far = getelementptr i8, ptr %p.next, i64 104856
define i64 @pointers(ptr %a, ptr %end) {
entry:
  br label %loop
loop:
  %p = phi ptr [ %a, %entry ], [ %p.next, %loop ]
  %s = phi i64 [ 0, %entry ], [ %s.next, %loop ]
  %v = load i64, ptr %p
  %s.next = add i64 %s, %v
  %p.next = getelementptr inbounds i64, ptr %p, i64 1
  %done = icmp eq ptr %p.next, %end
  br i1 %done, label %exit, label %loop
exit:
  ret i64 %s.next
}

; At most 1,000 iterations of 6 instructions: within one chunk, no check.
; CHECK-LABEL: define i64 @thousand(
; CHECK-NOT:   capri
; CHECK:       ret i64
; SMALL-LABEL: define i64 @thousand(
; SMALL:         %capri.chunk.long
define i64 @thousand(ptr %a) {
entry:
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i.next, %loop ]
  %s = phi i64 [ 0, %entry ], [ %s.next, %loop ]
  %p = getelementptr i64, ptr %a, i64 %i
  %v = load i64, ptr %p
  %s.next = add i64 %s, %v
  %i.next = add i64 %i, 1
  %done = icmp eq i64 %i.next, 1000
  br i1 %done, label %exit, label %loop
exit:
  ret i64 %s.next
}

; A nest: the inner loop is chunked, the outer one keeps its check at the
; header (once per run of the inner loop).
; CHECK-LABEL: define void @nest(
; CHECK:       outer:
; CHECK:         {{%capri.preempt[0-9]*}} = load volatile i8
; CHECK:       inner:
; CHECK:         %capri.chunk.done = icmp eq i64 %i.next, %capri.chunk.end
define void @nest(ptr %a, i64 %n) {
entry:
  br label %outer
outer:
  %j = phi i64 [ 0, %entry ], [ %j.next, %outer.latch ]
  br label %inner
inner:
  %i = phi i64 [ 0, %outer ], [ %i.next, %inner ]
  %p = getelementptr i64, ptr %a, i64 %i
  store i64 %j, ptr %p
  %i.next = add i64 %i, 1
  %idone = icmp eq i64 %i.next, %n
  br i1 %idone, label %outer.latch, label %inner
outer.latch:
  %j.next = add i64 %j, 1
  %done = icmp eq i64 %j.next, %n
  br i1 %done, label %exit, label %outer
exit:
  ret void
}

; REMARK-DAG: remark: <unknown>:0:0: loop yield point once every 10922 iterations
; REMARK-DAG: remark: <unknown>:0:0: loop yield point once every 16384 iterations
; REMARK-DAG: remark: <unknown>:0:0: check on every iteration: the exit compare is not an induction that never wraps against a loop-invariant bound
; REMARK-DAG: remark: <unknown>:0:0: no loop yield point: at most 1000 iterations and no calls

; A call-free nest of constant trip counts: the innermost loop's whole run
; (500 iterations) fits a chunk and needs no check, but the loops around
; it run it millions of times: each keeps its check at its header.
; CHECK-LABEL: define i64 @const_nest(
; CHECK:       mid:
; CHECK:         {{%capri.preempt[0-9]*}} = load volatile i8
; CHECK:       inner:
; CHECK-NOT:     capri.preempt
; CHECK:         br i1 %kdone
; REMARK-DAG: remark: <unknown>:0:0: no loop yield point: at most 500 iterations and no calls
define i64 @const_nest() {
entry:
  br label %outer
outer:
  %i = phi i64 [ 0, %entry ], [ %i.next, %outer.latch ]
  %s0 = phi i64 [ 1, %entry ], [ %s2, %outer.latch ]
  br label %mid
mid:
  %j = phi i64 [ 0, %outer ], [ %j.next, %mid.latch ]
  %s1 = phi i64 [ %s0, %outer ], [ %s.k, %mid.latch ]
  br label %inner
inner:
  %k = phi i64 [ 0, %mid ], [ %k.next, %inner ]
  %s = phi i64 [ %s1, %mid ], [ %s.k, %inner ]
  %m = mul i64 %s, 6364136223846793005
  %s.k = add i64 %m, %k
  %k.next = add i64 %k, 1
  %kdone = icmp eq i64 %k.next, 500
  br i1 %kdone, label %mid.latch, label %inner
mid.latch:
  %j.next = add i64 %j, 1
  %jdone = icmp eq i64 %j.next, 2000
  br i1 %jdone, label %outer.latch, label %mid
outer.latch:
  %s2 = phi i64 [ %s.k, %mid.latch ]
  %i.next = add i64 %i, 1
  %idone = icmp eq i64 %i.next, 2000
  br i1 %idone, label %exit, label %outer
exit:
  ret i64 %s2
}

; An irreducible cycle (entered at %a or at %pre) whose back edge is the
; counted loop's exit edge: its check goes on that edge, so the loop is not
; chunked (the rewrite would move the edge) and keeps a check per
; iteration.
; CHECK-LABEL: define i64 @irreducible_exit(
; CHECK:       loop:
; CHECK:         {{%capri.preempt[0-9]*}} = load volatile i8
; CHECK-NOT:     capri.chunk
; CHECK:       ret i64
; REMARK-DAG: remark: <unknown>:0:0: check on every iteration: an irreducible cycle enters or leaves the loop
define i64 @irreducible_exit(i64 %n, i1 %c, i64 %rounds) {
entry:
  br i1 %c, label %a, label %pre
a:
  %acc = phi i64 [ 1, %entry ], [ %s.next, %loop ]
  %done = icmp ugt i64 %acc, %rounds
  br i1 %done, label %exit, label %pre
pre:
  %acc2 = phi i64 [ 5, %entry ], [ %acc, %a ]
  br label %loop
loop:
  %i = phi i64 [ 0, %pre ], [ %i.next, %loop ]
  %s = phi i64 [ %acc2, %pre ], [ %s.next, %loop ]
  %s.m = mul i64 %s, 3
  %s.next = add i64 %s.m, %i
  %i.next = add nuw i64 %i, 1
  %cl = icmp eq i64 %i.next, %n
  br i1 %cl, label %a, label %loop
exit:
  ret i64 %acc
}

; Entered by two edges from one switch: the loop gets a preheader of its
; own, which both edges reach.
; CHECK-LABEL: define i64 @two_edges(
; CHECK:         switch i32 %k, label %other [
; CHECK-NEXT:      i32 3, label %[[PRE:.*]]
; CHECK-NEXT:      i32 7, label %[[PRE]]
; CHECK:       [[PRE]]:
; CHECK:         %capri.chunk.end0 = select
; CHECK:         %capri.chunk.done = icmp eq i64 %i.next, %capri.chunk.end
define i64 @two_edges(ptr %a, i64 %n, i32 %k) {
entry:
  switch i32 %k, label %other [ i32 3, label %loop
                                i32 7, label %loop ]
loop:
  %i = phi i64 [ 0, %entry ], [ 0, %entry ], [ %i.next, %loop ]
  %s = phi i64 [ 0, %entry ], [ 0, %entry ], [ %s.next, %loop ]
  %p = getelementptr i64, ptr %a, i64 %i
  %v = load i64, ptr %p
  %s.next = add i64 %s, %v
  %i.next = add i64 %i, 1
  %c = icmp eq i64 %i.next, %n
  br i1 %c, label %exit, label %loop
other:
  ret i64 -1
exit:
  ret i64 %s.next
}

; The bound computed inside the loop from invariants (scalar evolution
; calls it invariant, but the value does not exist before the loop): the
; check stays on every iteration.
; CHECK-LABEL: define i64 @bound_in_loop(
; CHECK:         {{%capri.preempt[0-9]*}} = load volatile i8
; CHECK-NOT:     capri.chunk
; CHECK:       ret i64
define i64 @bound_in_loop(ptr %a, i64 %n) {
entry:
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i.next, %loop ]
  %s = phi i64 [ 0, %entry ], [ %s.next, %loop ]
  %p = getelementptr i64, ptr %a, i64 %i
  %v = load i64, ptr %p
  %s.next = add i64 %s, %v
  %i.next = add i64 %i, 1
  %b = add i64 %n, 1
  %c = icmp eq i64 %i.next, %b
  br i1 %c, label %exit, label %loop
exit:
  ret i64 %s.next
}
