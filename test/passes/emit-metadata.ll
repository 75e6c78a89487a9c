; The record: one writable global in section capri_meta, 8-byte aligned,
; kept by llvm.used, whose address table lists every defined function, and
; a passive constructor and destructor that reach libcapri only through
; weak references.
;
; RUN: %opt-capri -passes=capri -S %s | FileCheck %s
; Running the pipeline again adds nothing (never twice for the same code).
; RUN: %opt-capri -passes=capri,capri -S %s | FileCheck %s --check-prefix=ONCE
; A program built from it links and runs without libcapri, and the record
; survives --gc-sections.
; RUN: %opt-capri -passes=capri %s -o %t.bc
; RUN: %clang %t.bc -o %t -Wl,--gc-sections
; RUN: %t
; RUN: llvm-readelf -S %t | FileCheck %s --check-prefix=ELF

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-pc-linux-gnu"

; The header's first 32 bytes, the bounds table's address (none here: no
; checkpoints), its entry count and the slack, the address table, the
; sections.
; CHECK: @__capri_record = internal global <{ [32 x i8], ptr, [8 x i8], [2 x ptr], [{{[0-9]+}} x i8] }> <{ [32 x i8] c"CPRI\01\00\03\00{{.*}}", ptr null, [8 x i8] c"\00\00\00\00\00\01\00\00", [2 x ptr] [ptr @helper, ptr @main], {{.*}} section "capri_meta", align 8
; CHECK-DAG: @llvm.used = appending global {{.*}} @__capri_record
; CHECK-DAG: @llvm.global_ctors = appending global {{.*}} @capri.module_ctor
; CHECK-DAG: @llvm.global_dtors = appending global {{.*}} @capri.module_dtor
; CHECK-DAG: declare extern_weak void @__capri_register_module(ptr)
; CHECK-LABEL: define internal void @capri.module_ctor()
; CHECK:   icmp ne ptr @__capri_register_module, null
; CHECK:   call void @__capri_register_module(ptr @__capri_record)
; CHECK: declare extern_weak void @__capri_unregister_module(ptr)
; CHECK-LABEL: define internal void @capri.module_dtor()
; CHECK:   call void @__capri_unregister_module(ptr @__capri_record)

; ONCE-COUNT-1: section "capri_meta"
; ONCE-NOT: section "capri_meta"

; ELF: capri_meta PROGBITS {{.*}} WA

define internal i32 @helper(i32 %x) {
  %y = add i32 %x, 1
  ret i32 %y
}

define i32 @main() {
  %r = call i32 @helper(i32 -1)
  ret i32 %r
}
