; A function is address-taken when its address escapes: stored, passed,
; or reached through an alias or a constant. Direct calls and bookkeeping
; (llvm.used, llvm.global.annotations) do not count.
;
; RUN: %opt-capri -passes='print<capri-callgraph>' -disable-output %s | FileCheck %s

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-pc-linux-gnu"

@table = global [1 x ptr] [ptr @in_table]
@alias_of_hidden = alias void (), ptr @behind_alias
@.note = private constant [6 x i8] c"hello\00", section "llvm.metadata"
@llvm.global.annotations = appending global [1 x { ptr, ptr, ptr, i32, ptr }] [{ ptr, ptr, ptr, i32, ptr } { ptr @annotated, ptr @.note, ptr @.note, i32 1, ptr null }], section "llvm.metadata"
@llvm.used = appending global [1 x ptr] [ptr @used_only], section "llvm.metadata"
@escape = global ptr null
@escape_alias = global ptr @alias_of_escaping
@alias_of_escaping = alias void (), ptr @escapes_via_alias

declare void @take(ptr)
declare void @ext_callback()
declare void @__cyg_profile_func_enter(ptr, ptr)

; CHECK-DAG: function in_table address-taken
define void @in_table() { ret void }
; Called through an alias only: not address-taken.
; CHECK-DAG: function behind_alias leaf
define void @behind_alias() { ret void }
; CHECK-DAG: function escapes_via_alias address-taken
define void @escapes_via_alias() { ret void }
; CHECK-DAG: function passed address-taken
define void @passed() { ret void }
; CHECK-DAG: function stored address-taken
define void @stored() { ret void }
; CHECK-DAG: function annotated leaf
define void @annotated() { ret void }
; CHECK-DAG: function used_only leaf
define void @used_only() { ret void }
; CHECK-DAG: function called leaf
; -finstrument-functions hands a function's own address to its hooks: that
; records it, it does not make the function callable from elsewhere.
; CHECK-DAG: function profiled type
define void @profiled() {
  call void @__cyg_profile_func_enter(ptr @profiled, ptr null)
  ret void
}
define void @called() { ret void }
; A declaration whose address is taken is recorded as a reference.
; CHECK-DAG: reference ext_callback
; CHECK-NOT: function {{annotated|used_only|called|behind_alias|profiled}} address-taken

define void @user() {
  call void @called()
  call void @annotated()
  call void @take(ptr @passed)
  call void @take(ptr @ext_callback)
  store ptr @stored, ptr @escape
  call void @alias_of_hidden()
  ret void
}
