//===-- FrameBound.h - an upper bound of each function's stack frame ------===//
//
// The plugin sees IR, not machine frames, so it estimates. The estimate is
// the sum of parts, each an upper bound of what the x86-64 code generator
// puts in a frame (the model is documented in docs/plugin.md):
//
//   static stack objects   allocas, with their alignment; with AddressSanitizer
//                          their redzones (the sanitizer runs after us)
//   register spills        from register pressure over SSA liveness
//   callee-saved registers all six, 48 bytes
//   return address         8 bytes
//   outgoing stack args    the largest argument area of any call
//   varargs save area      176 bytes in variadic functions
//   realignment            the largest alignment above 16
//   margin                 -capri-frame-margin
//
// Run time takes the backend's real sizes (-fstack-size-section) where it
// can; the estimate places checkpoints and stands where those are missing.
//
//===----------------------------------------------------------------------===//
#ifndef CAPRI_FRAME_BOUND_H
#define CAPRI_FRAME_BOUND_H

#include "capri_metadata.h"

#include "llvm/IR/PassManager.h"
#include "llvm/Support/raw_ostream.h"
#include <cstdint>

namespace llvm {
class CallBase;
class DataLayout;
} // namespace llvm

namespace capri {

/// Frame flags: the metadata format's function bits (docs/metadata.md).
namespace frameflags {
enum : uint16_t {
  DynamicAlloca = CAPRI_MD_FN_DYNAMIC_ALLOCA,
  InlineAsm = CAPRI_MD_FN_INLINE_ASM,
  ReturnsTwice = CAPRI_MD_FN_RETURNS_TWICE,
  Variadic = CAPRI_MD_FN_VARIADIC,
  Sanitized = CAPRI_MD_FN_SANITIZED,
  OptNone = CAPRI_MD_FN_OPTNONE,
  NoRedZone = CAPRI_MD_FN_NO_RED_ZONE,
};
}

struct FrameBound {
  uint64_t Total = 0;    ///< the bound, return address included
  uint64_t Allocas = 0;  ///< static stack objects
  uint64_t Spills = 0;   ///< register spills
  uint64_t Fixed = 0;    ///< return address, callee-saved, margin
  uint64_t OutgoingArgs = 0;
  uint64_t VarargsArea = 0;
  uint64_t Realign = 0;
  unsigned MaxAlign = 16; ///< largest alignment of any stack object
  uint16_t Flags = 0;

  void print(llvm::raw_ostream &OS) const;
};

/// Whether a call is a machine-level call (not an intrinsic or inline asm).
/// A function without one may be a leaf that uses the red zone.
bool isRealCall(const llvm::CallBase &CB);

/// Bytes a call passes on the stack, byval copies included (an upper bound).
uint64_t stackArgumentBytes(const llvm::CallBase &CB, const llvm::DataLayout &DL);

class CapriFrameAnalysis : public llvm::AnalysisInfoMixin<CapriFrameAnalysis> {
  friend llvm::AnalysisInfoMixin<CapriFrameAnalysis>;
  static llvm::AnalysisKey Key;

public:
  using Result = FrameBound;
  Result run(llvm::Function &F, llvm::FunctionAnalysisManager &);
};

struct CapriFramePrinter : llvm::PassInfoMixin<CapriFramePrinter> {
  llvm::raw_ostream &OS;
  explicit CapriFramePrinter(llvm::raw_ostream &OS) : OS(OS) {}
  llvm::PreservedAnalyses run(llvm::Function &F, llvm::FunctionAnalysisManager &FAM);
  static bool isRequired() { return true; }
};

} // namespace capri

#endif
