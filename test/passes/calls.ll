; Direct calls, calls to declarations, calls code generation introduces,
; invoke, callbr, tail calls and inline asm.
;
; RUN: %opt-capri -passes='print<capri-callgraph>' -disable-output %s | FileCheck %s

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-pc-linux-gnu"

@tls = thread_local global i32 0
@tls_ie = thread_local(initialexec) global i32 0

declare void @ext(i32)
declare i32 @__gxx_personality_v0(...)
declare void @llvm.memcpy.p0.p0.i64(ptr, ptr, i64, i1)

define internal void @helper() {
  ret void
}

define weak void @weak_fn() {
  ret void
}

; CHECK-LABEL: function caller
; CHECK-NEXT:  call defined helper
; CHECK-NEXT:  call external ext
; CHECK-NEXT:  call external weak_fn
; CHECK-NEXT:  call external memcpy codegen
; CHECK-NEXT:  call external __divti3 codegen
; CHECK-NEXT:  call external fmod codegen
; CHECK-NEXT:  call external __tls_get_addr codegen
define i32 @caller(ptr %d, ptr %s, i64 %n, i128 %a, i128 %b, double %x) {
  call void @helper()
  call void @ext(i32 1)
  call void @ext(i32 2)
  call void @weak_fn()
  ; a constant small copy is expanded inline, a variable one calls memcpy
  call void @llvm.memcpy.p0.p0.i64(ptr %d, ptr %s, i64 16, i1 false)
  call void @llvm.memcpy.p0.p0.i64(ptr %d, ptr %s, i64 %n, i1 false)
  %q = sdiv i128 %a, %b
  %r = frem double %x, %x
  %t = load i32, ptr @tls
  %u = load i32, ptr @tls_ie
  ret i32 %t
}

; CHECK-LABEL: function tail_caller
; CHECK-NEXT:  call external ext tail
define void @tail_caller() {
  tail call void @ext(i32 3)
  ret void
}

; CHECK-LABEL: function must_tail_caller
; CHECK-NEXT:  call external ext tail musttail
define void @must_tail_caller(i32 %x) {
  musttail call void @ext(i32 %x)
  ret void
}

; CHECK-LABEL: function setjmp_caller
; CHECK-NEXT:  call external _setjmp returns-twice
declare i32 @_setjmp(ptr) returns_twice
define i32 @setjmp_caller(ptr %env) {
  %r = call i32 @_setjmp(ptr %env) returns_twice
  ret i32 %r
}

; CHECK-LABEL: function invoker
; CHECK-NEXT:  call external ext invoke
define void @invoker() personality ptr @__gxx_personality_v0 {
  invoke void @ext(i32 4) to label %ok unwind label %bad
ok:
  ret void
bad:
  %lp = landingpad { ptr, i32 } cleanup
  resume { ptr, i32 } %lp
}

; An indirect jump, whatever the spacing, leaves the function.
; CHECK-LABEL: function jumper
; CHECK-NEXT:  call asm <inline asm>
define void @jumper(ptr %p) {
  call void asm sideeffect "jmpq\09*$0", "r"(ptr %p)
  ret void
}

; asm goto is a callbr; only an asm that itself calls is a call edge.
; CHECK-LABEL: function asm_user
; CHECK-NEXT:  call asm <inline asm>
; CHECK-NOT:   call
; CHECK-LABEL: function indirect_user
define void @asm_user() {
  call void asm sideeffect "nop", ""()
  call void asm sideeffect "call foo", ""()
  call void asm sideeffect "syscall", ""()
  callbr void asm "jmp ${0:l}", "!i"() to label %a [label %b]
a:
  ret void
b:
  ret void
}

; CHECK-NEXT:  call indirect <indirect ir-type
; CHECK-NEXT:    unresolved
define void @indirect_user(ptr %fp) {
  call void %fp(i32 5)
  ret void
}

!llvm.module.flags = !{!0}
!0 = !{i32 8, !"PIC Level", i32 2}
