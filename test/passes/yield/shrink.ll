; -capri-shrink-yield-frames: a large object dead at a yield site of its
; function, whose lifetime is a region with one entry (left after any of
; its lifetime ends), has that region extracted into a noinline function
; that owns the object, so the frame that blocks at that site no longer
; holds it; the call is a forced checkpoint, so the moved code runs on a
; chunk of its own. Refused, with a remark: an object live at every site,
; an object below the threshold, an object without lifetime markers.
;
; RUN: %opt-capri -passes=capri-shrink-yield-frames -pass-remarks=capri-shrink -pass-remarks-missed=capri-shrink -S %s 2>%t.remarks | FileCheck %s
; RUN: FileCheck %s --check-prefix=REMARK < %t.remarks
; The live state after the move: the frame that blocks at the read is
; small (it was over 4 KiB), and only the result's slot is dead there.
; RUN: %opt-capri -passes='capri-shrink-yield-frames,print<capri-yield-sites>' -disable-output %s | FileCheck %s --check-prefix=AFTER
; Off by default in the pipeline; on with the option.
; RUN: %opt-capri -passes=capri -S %s | FileCheck %s --check-prefix=DEFAULT
; RUN: %opt-capri -passes=capri -capri-shrink-yield-frames -S %s | FileCheck %s --check-prefix=ON

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-pc-linux-gnu"

declare i64 @read(i32, ptr, i64)
declare i64 @strlen(ptr)
declare void @llvm.memset.p0.i64(ptr, i8, i64, i1)
declare void @llvm.lifetime.start.p0(i64, ptr)
declare void @llvm.lifetime.end.p0(i64, ptr)

define internal i64 @format(ptr %p, i32 %n) {
  %c = trunc i32 %n to i8
  call void @llvm.memset.p0.i64(ptr %p, i8 %c, i64 64, i1 false)
  %l = call i64 @strlen(ptr %p)
  ret i64 %l
}

; CHECK-LABEL: define i64 @serve(
; CHECK-NOT:   alloca [4096 x i8]
; CHECK:       alloca [64 x i8]
; CHECK-NOT:   alloca [4096 x i8]
; CHECK:       call void @serve.capri.shrink(i32 %fd, ptr %len.loc), !capri.checkpoint
; CHECK:       call i64 @read(
; REMARK: remark: {{.*}}moved path (4096 bytes) out of the frame of serve into serve.capri.shrink
define i64 @serve(i32 %fd) {
entry:
  %path = alloca [4096 x i8], align 16
  %req = alloca [64 x i8], align 16
  br label %prepare
prepare:
  call void @llvm.lifetime.start.p0(i64 4096, ptr %path)
  %len = call i64 @format(ptr %path, i32 %fd)
  call void @llvm.lifetime.end.p0(i64 4096, ptr %path)
  call void @llvm.lifetime.start.p0(i64 64, ptr %req)
  %n = call i64 @read(i32 %fd, ptr %req, i64 64)
  call void @llvm.lifetime.end.p0(i64 64, ptr %req)
  %r = add i64 %n, %len
  ret i64 %r
}

; AFTER:      serve: parks
; AFTER-NEXT:   direct read: frame {{[0-9][0-9]?[0-9]?}}, live 72 (objects 64, values 8), dead 8 [len.loc=8], stored

; Live at the read: stays.
; CHECK-LABEL: define i64 @live_at_site(
; CHECK:       %buf = alloca [4096 x i8]
; REMARK: remark: {{.*}}not moving buf (4096 bytes): it is in scope (its lifetime) at every yield site
define i64 @live_at_site(i32 %fd) {
  %buf = alloca [4096 x i8], align 16
  call void @llvm.lifetime.start.p0(i64 4096, ptr %buf)
  %n = call i64 @read(i32 %fd, ptr %buf, i64 4096)
  call void @llvm.lifetime.end.p0(i64 4096, ptr %buf)
  ret i64 %n
}

; Live at the first read (used after it), dead at the second: moved, with
; the first read, so a thread waiting in the second does not hold it.
; CHECK-LABEL: define i64 @live_at_one_site(
; CHECK-NOT:   alloca [2048 x i8]
; CHECK:       call void @live_at_one_site.capri.shrink(i32 %fd, ptr %other, ptr %a.loc, ptr %l2.loc), !capri.checkpoint
; CHECK:       call i64 @read(
; CHECK:       ret i64
; REMARK: remark: {{.*}}moved tmp (2048 bytes) out of the frame of live_at_one_site into live_at_one_site.capri.shrink
define i64 @live_at_one_site(i32 %fd, ptr %other) {
  %tmp = alloca [2048 x i8], align 16
  br label %body
body:
  call void @llvm.lifetime.start.p0(i64 2048, ptr %tmp)
  %l = call i64 @format(ptr %tmp, i32 %fd)
  %a = call i64 @read(i32 %fd, ptr %other, i64 8)
  %l2 = call i64 @format(ptr %tmp, i32 %fd)
  call void @llvm.lifetime.end.p0(i64 2048, ptr %tmp)
  %b = call i64 @read(i32 %fd, ptr %other, i64 8)
  %s = add i64 %a, %b
  %t = add i64 %s, %l2
  ret i64 %t
}

; Dead at the read, its lifetime ending on two paths (an inlined function
; ends it before each return): the region has two exits, which the
; extractor joins; it passes the object's address, and the pass gives the
; new function its own object instead.
; CHECK-LABEL: define i64 @two_ends(
; CHECK-NOT:   alloca [1024 x i8]
; CHECK:       call i1 @two_ends.capri.shrink(ptr poison, i32 %fd, i1 %c, ptr %l.loc), !capri.checkpoint
; REMARK: remark: {{.*}}moved two (1024 bytes) out of the frame of two_ends into two_ends.capri.shrink{{$}}
define i64 @two_ends(i32 %fd, ptr %other, i1 %c) {
  %two = alloca [1024 x i8], align 16
  br label %body
body:
  call void @llvm.lifetime.start.p0(i64 1024, ptr %two)
  %l = call i64 @format(ptr %two, i32 %fd)
  br i1 %c, label %a, label %b
a:
  call void @llvm.lifetime.end.p0(i64 1024, ptr %two)
  br label %join
b:
  call void @llvm.lifetime.end.p0(i64 1024, ptr %two)
  br label %join
join:
  %r = call i64 @read(i32 %fd, ptr %other, i64 8)
  %s = add i64 %r, %l
  ret i64 %s
}

; Below the threshold (512 bytes by default), and without lifetime
; markers: stay, with no remark for the small one.
; CHECK-LABEL: define i64 @small_and_unmarked(
; CHECK:       %small = alloca [256 x i8]
; CHECK:       %unmarked = alloca [1024 x i8]
; REMARK-NOT:  small
; REMARK: remark: {{.*}}not moving unmarked (1024 bytes): it has no lifetime markers, so it is live everywhere
; REMARK-NOT:  small
define i64 @small_and_unmarked(i32 %fd, ptr %other) {
  %small = alloca [256 x i8], align 16
  %unmarked = alloca [1024 x i8], align 16
  br label %body
body:
  call void @llvm.lifetime.start.p0(i64 256, ptr %small)
  %l = call i64 @format(ptr %small, i32 %fd)
  call void @llvm.lifetime.end.p0(i64 256, ptr %small)
  %m = call i64 @format(ptr %unmarked, i32 %fd)
  %a = call i64 @read(i32 %fd, ptr %other, i64 8)
  %s = add i64 %a, %l
  %t = add i64 %s, %m
  ret i64 %t
}

; The extracted function owns the object (appended to the module).
; CHECK-LABEL: define internal void @serve.capri.shrink(
; CHECK-SAME:  i32 %fd, ptr %len.out) #[[ATTRS:[0-9]+]]
; CHECK:       %path = alloca [4096 x i8]
; CHECK:       call void @llvm.lifetime.start.p0(i64 4096, ptr %path)
; CHECK:       call i64 @format(ptr %path, i32 %fd)
; CHECK:       call void @llvm.lifetime.end.p0(i64 4096, ptr %path)
; CHECK-LABEL: define internal i1 @two_ends.capri.shrink(
; CHECK:       %two = alloca [1024 x i8]
; CHECK:       call i64 @format(ptr %two, i32 %fd)
; CHECK:       attributes #[[ATTRS]] = { {{.*}}noinline

; DEFAULT-NOT: capri.shrink
; ON: define internal void @serve.capri.shrink(
