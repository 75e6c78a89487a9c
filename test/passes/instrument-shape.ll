; The checks CheckpointInstrumentation inserts (docs/stack-growth-design.md,
; "The check"): a small region compares the stack pointer with the limit
; word at %fs:0x70; a larger one compares it with the limit plus its
; bound, loaded from the module's bounds table (which the runtime
; rewrites). The original call stays on the fast path; the slow path stores the arguments (and an
; indirect callee) in a block on the caller's frame and calls __morestack
; with a thunk that makes the same call. Invokes keep their landing pad.
;
; RUN: %opt-capri -passes=capri-instrument -S %s | FileCheck %s
; RUN: %opt-capri -passes=capri-instrument %s | llc -O2 -o - | FileCheck %s --check-prefix=ASM
; RUN: %opt-capri -passes=capri-instrument -capri-instrument=0 -S %s | FileCheck %s --check-prefix=OFF

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-pc-linux-gnu"

; OFF-NOT: capri.

; The bounds of the four large regions (the reserve for calls into other
; files; the varargs call also passes 16 bytes on the stack), writable,
; internal to the module.
; CHECK: @capri.bounds = internal global [4 x i64] [i64 16384, i64 16400, i64 16384, i64 16384], section ".data.capri.bounds", align 8

declare i32 @elsewhere(i32, ptr)
declare void @vararg(i32, ...)
declare i32 @__gxx_personality_v0(...)
declare void @may_throw(i64)

; A recursion: its back edge is a checkpoint with a small region.
; CHECK-LABEL: define i32 @rec(
; CHECK:       entry:
; CHECK-NEXT:    %capri.block = alloca [8 x i8], align 16
; CHECK:       again:
; CHECK:         %capri.sp = call i64 @llvm.read_register.i64(metadata ![[RSP:[0-9]+]])
; CHECK-NEXT:    %capri.limit = load volatile i64, ptr addrspace(257) inttoptr (i64 112 to ptr addrspace(257)), align 8
; CHECK-NEXT:    %capri.fits = icmp uge i64 %capri.sp, %capri.limit
; CHECK-NEXT:    br i1 %capri.fits, label %again.capri.direct, label %again.capri.grow, !prof ![[LIKELY:[0-9]+]]
; CHECK:       again.capri.direct:
; CHECK-NEXT:    %r = call i32 @rec(i32 %m), !capri.checkpoint ![[CP_REC:[0-9]+]]
; CHECK:       again.capri.grow:
; CHECK-NEXT:    call void @llvm.lifetime.start.p0(i64 8, ptr %capri.block)
; CHECK-NEXT:    [[A:%.*]] = getelementptr inbounds { i32, i32 }, ptr %capri.block, i32 0, i32 0
; CHECK-NEXT:    store i32 %m, ptr [[A]]
; The addresses are computed in the cold block, by an asm the code
; generator cannot hoist out of loops.
; CHECK-NEXT:    [[T:%.*]] = call ptr asm sideeffect "leaq $1, $0", "=r,*m,{{.*}}"(ptr elementtype(i8) @rec.capri.thunk) #[[PIN:[0-9]+]], !capri.slow_path
; CHECK-NEXT:    [[BL:%.*]] = call ptr asm sideeffect "leaq $1, $0", "=r,*m,{{.*}}"(ptr elementtype(i8) %capri.block) #[[PIN]], !capri.slow_path
; CHECK-NEXT:    call void @__morestack(ptr [[T]], ptr [[BL]], i64 {{[0-9]+}})
; CHECK-NEXT:    [[R:%.*]] = getelementptr inbounds { i32, i32 }, ptr %capri.block, i32 0, i32 1
; CHECK-NEXT:    %capri.result = load i32, ptr [[R]]
; CHECK-NEXT:    call void @llvm.lifetime.end.p0(i64 8, ptr %capri.block)
; CHECK:       again.capri.join:
; CHECK-NEXT:    %capri.merged = phi i32 [ %r, %again.capri.direct ], [ %capri.result, %again.capri.grow ]
; CHECK-NEXT:    %s = add i32 %capri.merged, 1
; The fast path of the small region: two instructions before the call.
; ASM-LABEL: rec:
; ASM:         cmpq %fs:112, %rsp
; ASM-NEXT:    jb
; ASM-NEXT:  # %bb.{{[0-9]+}}:
; ASM-NEXT:    callq rec
; ASM:         leaq rec.capri.thunk(%rip), %rdi
; ASM:         callq __morestack@PLT
define i32 @rec(i32 %n) {
entry:
  %done = icmp eq i32 %n, 0
  br i1 %done, label %out, label %again
again:
  %m = sub i32 %n, 1
  %r = call i32 @rec(i32 %m)
  %s = add i32 %r, 1
  ret i32 %s
out:
  ret i32 0
}

; A call into another file: the table form. The tail call stays a tail
; call on the fast path.
; CHECK-LABEL: define i32 @tail(
; CHECK:         %capri.limit = load i64, ptr addrspace(257) inttoptr (i64 112 to ptr addrspace(257)), align 8
; CHECK-NEXT:    %capri.bound = load i64, ptr @capri.bounds, align 8
; CHECK-NEXT:    %capri.high = add i64 %capri.limit, %capri.bound
; CHECK-NEXT:    %capri.fits = icmp uge i64 %capri.sp, %capri.high
; CHECK:         %r = tail call i32 @elsewhere(i32 %x, ptr %p), !capri.checkpoint ![[CP_TAIL:[0-9]+]]
; The slow path loads the bound again (so the fast path's load can fold).
; CHECK:         %capri.bound.again = load i64, ptr @capri.bounds, align 8
; CHECK-NEXT:    [[NEED:%.*]] = add i64 %capri.bound.again, {{[0-9]+}}
; CHECK-NEXT:    [[T2:%.*]] = call ptr asm sideeffect "leaq $1, $0", {{.*}} @tail.capri.thunk)
; CHECK-NEXT:    [[B2:%.*]] = call ptr asm sideeffect "leaq $1, $0", {{.*}} %capri.block)
; CHECK-NEXT:    call void @__morestack(ptr [[T2]], ptr [[B2]], i64 [[NEED]])
; The table form: four instructions.
; ASM-LABEL: tail:
; ASM:         movq %fs:112, [[R:%r[a-z0-9]+]]
; ASM-NEXT:    addq capri.bounds(%rip), [[R]]
; ASM-NEXT:    cmpq [[R]], %rsp
; ASM-NEXT:    jb
; ASM:         jmp elsewhere@PLT # TAILCALL
define i32 @tail(i32 %x, ptr %p) {
  %r = tail call i32 @elsewhere(i32 %x, ptr %p)
  ret i32 %r
}

; Varargs: the promoted arguments go through the block like any other.
; CHECK-LABEL: define void @va(
; CHECK:         %capri.block = alloca [32 x i8], align 16
; CHECK:         store x86_fp80 %l, ptr
; CHECK:         {{.*}} = call ptr asm sideeffect "leaq $1, $0", {{.*}} @va.capri.thunk)
; CHECK:         call void @__morestack(
define void @va(double %d, x86_fp80 %l) {
  call void (i32, ...) @vararg(i32 2, double %d, x86_fp80 %l)
  ret void
}

; An indirect call: the callee is the block's first field.
; CHECK-LABEL: define void @ind(
; CHECK:         [[F:%.*]] = getelementptr inbounds { ptr, i64 }, ptr %capri.block, i32 0, i32 0
; CHECK-NEXT:    store ptr %fp, ptr [[F]]
define void @ind(ptr %fp, i64 %v) {
  call void %fp(i64 %v)
  ret void
}

; An invoke: the slow path invokes __morestack with the same landing pad;
; both paths meet before the normal destination.
; CHECK-LABEL: define i32 @inv(
; CHECK:       entry.capri.direct:
; CHECK-NEXT:    invoke void @may_throw(i64 %v)
; CHECK-NEXT:      to label %entry.capri.join unwind label %lp, !capri.checkpoint
; CHECK:       entry.capri.grow:
; CHECK:         {{.*}} = call ptr asm sideeffect "leaq $1, $0", {{.*}} @inv.capri.thunk)
; CHECK:         invoke void @__morestack(ptr {{%.*}}, ptr {{%.*}}, i64 {{%.*}})
; CHECK-NEXT:      to label %entry.capri.grown unwind label %lp
; CHECK:       entry.capri.join:
; CHECK-NEXT:    br label %ok
; CHECK:       lp:
; CHECK-NEXT:    landingpad
define i32 @inv(i64 %v) personality ptr @__gxx_personality_v0 {
entry:
  invoke void @may_throw(i64 %v) to label %ok unwind label %lp
ok:
  ret i32 0
lp:
  %e = landingpad { ptr, i32 } cleanup
  ret i32 1
}

; Weak, so a program links without libcapri (no runtime sets the limit
; word, and no check fails); a plain call (capri-cc links with -z now).
; CHECK: declare extern_weak void @__morestack(ptr, ptr, i64) #[[MS:[0-9]+]]

; The thunks: load the block, make the call, store the result.
; CHECK-LABEL: define internal void @rec.capri.thunk(ptr noundef nonnull %block)
; CHECK:         [[V:%.*]] = call i32 @rec(i32
; CHECK:         store i32 [[V]], ptr
; CHECK-LABEL: define internal void @va.capri.thunk(
; CHECK:         call void (i32, ...) @vararg(i32 {{%.*}}, double {{%.*}}, x86_fp80 {{%.*}})
; CHECK-LABEL: define internal void @ind.capri.thunk(
; CHECK:         %callee = load ptr, ptr
; CHECK:         call void %callee(i64

; CHECK: attributes #[[MS]] = { cold }
; CHECK: ![[RSP]] = !{!"rsp"}
; CHECK: ![[LIKELY]] = !{!"branch_weights", i32 2000, i32 1}
; Reason (0 cycle, 2 cross-file), region, table index (-1: small), bytes
; of stack arguments.
; CHECK: ![[CP_REC]] = !{i32 0, i64 {{[0-9]+}}, i32 -1, i64 0}
; CHECK: ![[CP_TAIL]] = !{i32 2, i64 16384, i32 0, i64 0}
