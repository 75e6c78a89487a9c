; Live state at yield sites on hand-written functions: a 4 KiB buffer whose
; lifetime ends before a read is dead there, a 64-byte struct the read
; fills is live across it, and so are the SSA values defined before and
; used after it. The frame is coloured: the buffer and the struct never
; live at once, so they share space.
;
; RUN: %opt-capri -passes='function(print<capri-frame>),print<capri-yield-sites>' -disable-output %s | FileCheck %s

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-pc-linux-gnu"

declare i64 @read(i32, ptr, i64)
declare void @fill(ptr)
declare i64 @compute(ptr)
declare void @llvm.lifetime.start.p0(i64, ptr)
declare void @llvm.lifetime.end.p0(i64, ptr)

; CHECK-LABEL: frame serve: bound [[#TOTAL:]] = allocas 4160
define i64 @serve(i32 %fd) {
entry:
  %buf = alloca [4096 x i8], align 16
  %req = alloca [64 x i8], align 16
  call void @llvm.lifetime.start.p0(i64 4096, ptr %buf)
  call void @fill(ptr %buf)
  %k = call i64 @compute(ptr %buf)
  call void @llvm.lifetime.end.p0(i64 4096, ptr %buf)
  call void @llvm.lifetime.start.p0(i64 64, ptr %req)
  %n = call i64 @read(i32 %fd, ptr %req, i64 64)
  %m = call i64 @compute(ptr %req)
  call void @llvm.lifetime.end.p0(i64 64, ptr %req)
  %s = add i64 %n, %k
  %t = add i64 %s, %m
  ret i64 %t
}

; An -O0 style function: no lifetime markers, so every object is live
; everywhere, as the frame holds it.
define void @no_markers(i32 %fd) {
entry:
  %buf = alloca [4096 x i8], align 16
  %req = alloca [64 x i8], align 16
  call void @fill(ptr %buf)
  %n = call i64 @read(i32 %fd, ptr %req, i64 64)
  ret void
}

; At fill the buffer is live and the struct (not started yet) is dead.
; The frame: the 4160 bytes of objects coloured into 4096.
; CHECK-LABEL: capri yield sites of
; CHECK:      serve: parks
; CHECK-NEXT:   unknown fill: frame [[#TOTAL-64]], live 4100 (objects 4096, values 4), dead 64 [req=64], stored, cleared after
; CHECK-NEXT:   unknown compute: frame [[#TOTAL-64]], live 4100 (objects 4096, values 4), dead 64 [req=64], stored, cleared after
; At the read: the struct (64) and %k (8) are live, %fd is not used again;
; the buffer is dead.
; CHECK-NEXT:   direct read: frame [[#TOTAL-64]], live 72 (objects 64, values 8), dead 4096 [buf=4096], stored
; CHECK-NEXT:   unknown compute: frame [[#TOTAL-64]], live 80 (objects 64, values 16), dead 4096 [buf=4096], stored, cleared after

; CHECK:      no_markers: parks
; CHECK-NEXT:   unknown fill: frame {{[0-9]+}}, live 4164 (objects 4160, values 4), dead 0, no lifetimes, stored, cleared after
; CHECK-NEXT:   direct read: frame {{[0-9]+}}, live 4160 (objects 4160, values 0), dead 0, no lifetimes, stored
