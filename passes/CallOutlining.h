//===-- CallOutlining.h - moving a call into a thunk ----------------------===//
//
// A checkpoint's slow path makes its call from a thunk that __morestack runs
// on a new chunk (docs/stack-growth-design.md, "The check"). The caller
// stores the call's arguments (and, for an indirect call, the callee) in an
// argument block on its own frame; the thunk loads them, makes the call
// with the same attributes and calling convention, and stores the result in
// the block. This file says which calls can be moved that way (an
// allowlist: anything the thunk could not reproduce exactly stays where it
// is) and how their block is laid out; placement charges the block to the
// caller's frame, instrumentation builds it.
//
//===----------------------------------------------------------------------===//
#ifndef CAPRI_CALL_OUTLINING_H
#define CAPRI_CALL_OUTLINING_H

#include "llvm/ADT/SmallVector.h"
#include <cstdint>
#include <string>

namespace llvm {
class CallBase;
class DataLayout;
class StructType;
} // namespace llvm

namespace capri {

/// Why a call cannot be made from a thunk ("" when it can).
std::string unoutlinableReason(const llvm::CallBase &CB);

struct ArgumentBlock {
  llvm::StructType *Type = nullptr;
  /// Field 0 holds the callee (an indirect call).
  bool HoldsCallee = false;
  /// The field of each call argument; -1 for arguments the thunk repeats as
  /// constants (immarg and metadata operands).
  llvm::SmallVector<int, 8> ArgField;
  int ResultField = -1; ///< -1: the call returns void
};

/// The block of a call that can be outlined.
ArgumentBlock argumentBlock(const llvm::CallBase &CB);

/// What one block adds to the caller's frame: its size rounded to 16 bytes,
/// and its alignment when that is above 16 (the frame gets realigned).
uint64_t argumentBlockFrameBytes(const llvm::CallBase &CB, const llvm::DataLayout &DL);

} // namespace capri

#endif
