; Yield-site detection (docs/yield-design.md): direct calls to yield
; primitives, transitive calls through two levels, recursion through a
; site, cross-file callees (unknown until their metadata says otherwise),
; indirect calls, inline asm, and calls that never park.
;
; RUN: %opt-capri -passes='print<capri-yield-sites>' -disable-output %s | FileCheck %s

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-pc-linux-gnu"

declare i64 @read(i32, ptr, i64)
declare void @capri_yield()
declare i64 @strlen(ptr)
declare ptr @malloc(i64)
declare void @other_file(i32)
declare void @llvm.memcpy.p0.p0.i64(ptr, ptr, i64, i1)

; CHECK-LABEL: capri yield sites of
; CHECK:      leaf_read: parks
; CHECK-NEXT:   direct read: frame {{[0-9]+}}, live {{[0-9]+}} {{.*}}, stored
; CHECK-NOT:    cleared
define i64 @leaf_read(i32 %fd, ptr %buf) {
  %n = call i64 @read(i32 %fd, ptr %buf, i64 16)
  ret i64 %n
}

; Two levels above the direct site.
; CHECK:      middle: parks
; CHECK-NEXT:   transitive leaf_read: {{.*}}
; CHECK-NOT:    stored
define internal i64 @middle(i32 %fd, ptr %buf) {
  %n = call i64 @leaf_read(i32 %fd, ptr %buf)
  ret i64 %n
}

; CHECK:      top: parks
; CHECK-NEXT:   transitive middle: {{.*}}
; CHECK-NEXT:   {{^}}  pure: never parks
define i64 @top(i32 %fd, ptr %buf) {
  %n = call i64 @middle(i32 %fd, ptr %buf)
  call void @pure(ptr %buf)
  ret i64 %n
}

; Calls that never park make no site.
define void @pure(ptr %p) {
  %n = call i64 @strlen(ptr %p)
  %m = call ptr @malloc(i64 %n)
  call void @llvm.memcpy.p0.p0.i64(ptr %m, ptr %p, i64 %n, i1 false)
  ret void
}

; Recursion through a site: the cycle parks, so both calls are sites.
; CHECK:      ping: parks
; CHECK-NEXT:   transitive pong: {{.*}}
; CHECK-NEXT: pong: parks
; CHECK-NEXT:   direct capri_yield: {{.*}}, stored
; CHECK-NEXT:   transitive ping: {{.*}}
define void @ping(i32 %n) {
  %c = icmp eq i32 %n, 0
  br i1 %c, label %done, label %more
more:
  %m = sub i32 %n, 1
  call void @pong(i32 %m)
  br label %done
done:
  ret void
}

define void @pong(i32 %n) {
  call void @capri_yield()
  call void @ping(i32 %n)
  ret void
}

; A recursive cycle with no site never parks.
; CHECK:      spin: never parks
define void @spin(i32 %n) {
  %c = icmp eq i32 %n, 0
  br i1 %c, label %done, label %more
more:
  %m = sub i32 %n, 1
  call void @spin(i32 %m)
  br label %done
done:
  ret void
}

; A function defined in another file: unknown here, stored, and cleared
; after the call (it may return without parking). A caller of a function
; with only unknown sites is unknown too, without a store of its own.
; CHECK:      cross: may park
; CHECK-NEXT:   unknown other_file: {{.*}}, stored, cleared after
; CHECK-NEXT: above_cross: may park
; CHECK-NEXT:   unknown cross: {{.*}}
; CHECK-NOT:    stored
define void @cross(i32 %x) {
  call void @other_file(i32 %x)
  ret void
}

define void @above_cross() {
  call void @cross(i32 1)
  ret void
}

; Indirect calls are unknown (stored); calls from inline asm too (not
; stored: there is no call instruction to put the store before).
; CHECK:      indirect: may park
; CHECK-NEXT:   unknown <indirect {{.*}}: {{.*}}, stored, cleared after
; CHECK-NEXT:   unknown <inline asm>: {{.*}}
; CHECK-NOT:    stored
define void @indirect(ptr %fp) {
  call void %fp(i32 3)
  call void asm sideeffect "call foo", ""()
  ret void
}

; A tail call is stored but not cleared after (a store after it would
; stop the tail call).
; CHECK:      tail_unknown: may park
; CHECK-NEXT:   unknown other_file: {{.*}}, stored{{$}}
define void @tail_unknown(i32 %x) {
  tail call void @other_file(i32 %x)
  ret void
}
