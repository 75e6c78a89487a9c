; The site word: before each stored yield site the plugin stores the
; address of the site's descriptor (its entry in the record's YIELD_SITES
; section) into the thread-local word __capri_yield_site, which the module
; defines weak in a COMDAT group (initial-exec, 8 bytes). Unknown sites also
; clear it after the call; transitive sites store nothing (the direct site
; inside stores its own).
;
; RUN: %opt-capri -passes=capri -S %s | FileCheck %s
; RUN: %opt-capri -passes=capri -capri-yield-sites=0 -S %s | FileCheck %s --check-prefix=OFF
; RUN: %opt-capri -passes=capri -capri-emit-metadata=0 -S %s | FileCheck %s --check-prefix=OFF

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-pc-linux-gnu"

; CHECK: $__capri_yield_site = comdat any
; CHECK: @__capri_yield_site = weak thread_local(initialexec) global ptr null, comdat, align 8
; CHECK-NOT: capri.site.

; OFF-NOT: __capri_yield_site
; OFF-NOT: capri.site.

declare i64 @read(i32, ptr, i64)
declare void @other_file(i32)

; Entries are 44 bytes, in function order: serve's two reads, wrapper's
; transitive call (not stored), cross's call.
; CHECK-LABEL: define i64 @serve(
; CHECK:      [[W:%.*]] = call {{.*}}ptr @llvm.threadlocal.address.p0(ptr {{.*}}@__capri_yield_site)
; CHECK-NEXT: store ptr getelementptr inbounds (i8, ptr @__capri_record, i64 [[#%u,SITE0:]]), ptr [[W]], align 8
; CHECK-NEXT: call i64 @read(
; CHECK:      [[W2:%.*]] = call {{.*}}ptr @llvm.threadlocal.address.p0(ptr {{.*}}@__capri_yield_site)
; CHECK-NEXT: store ptr getelementptr inbounds (i8, ptr @__capri_record, i64 [[#SITE0+44]]), ptr [[W2]], align 8
; CHECK-NEXT: call i64 @read(
define i64 @serve(i32 %fd, ptr %buf) {
  %a = call i64 @read(i32 %fd, ptr %buf, i64 16)
  %b = call i64 @read(i32 %fd, ptr %buf, i64 32)
  %s = add i64 %a, %b
  ret i64 %s
}

; CHECK-LABEL: define i64 @wrapper(
; CHECK-NOT:  @__capri_yield_site
; CHECK:      call i64 @serve(
; CHECK-NOT:  @__capri_yield_site
; CHECK:      ret i64
define i64 @wrapper(i32 %fd, ptr %buf) {
  %n = call i64 @serve(i32 %fd, ptr %buf)
  ret i64 %n
}

; CHECK-LABEL: define void @cross(
; The call is a checkpoint too: the store comes before the check, the
; clearing after the join of the fast and slow paths.
; CHECK:      store ptr getelementptr inbounds (i8, ptr @__capri_record, i64 [[#SITE0+132]]), ptr
; CHECK:      capri.fits
; CHECK:      call void @other_file(i32 %x), !capri.yield_site
; CHECK:      .capri.join:
; CHECK-NEXT: [[W3:%.*]] = call {{.*}}ptr @llvm.threadlocal.address.p0(ptr {{.*}}@__capri_yield_site)
; CHECK-NEXT: store ptr null, ptr [[W3]], align 8
define void @cross(i32 %x) {
  call void @other_file(i32 %x)
  ret void
}
