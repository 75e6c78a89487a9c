//===-- YieldFrameShrink.h - keep dead objects out of blocked frames ------===//
//
// Off by default (-capri-shrink-yield-frames). Ending a lifetime does not
// shrink a frame that is in use, so a thread blocked at a yield site holds
// every stack object of the frame, dead or not. For a static alloca of at
// least -capri-shrink-threshold bytes that is dead at every yield site of
// its function, and whose lifetime (one lifetime.start, one lifetime.end)
// is a single-entry, single-exit region of the CFG, the pass extracts that
// region with LLVM's CodeExtractor into a noinline function that owns the
// alloca: the object then lives in a frame that is popped before the
// thread parks (docs/yield-design.md). Everything else is left alone, with
// a remark (-Rpass-missed=capri-shrink) saying why.
//
//===----------------------------------------------------------------------===//
#ifndef CAPRI_YIELD_FRAME_SHRINK_H
#define CAPRI_YIELD_FRAME_SHRINK_H

#include "llvm/IR/PassManager.h"

namespace capri {

struct CapriYieldFrameShrinkPass : llvm::PassInfoMixin<CapriYieldFrameShrinkPass> {
  explicit CapriYieldFrameShrinkPass(bool AtLTOLink = false, bool Force = false)
      : AtLTOLink(AtLTOLink), Force(Force) {}
  llvm::PreservedAnalyses run(llvm::Module &M, llvm::ModuleAnalysisManager &MAM);
  static bool isRequired() { return true; }

private:
  bool AtLTOLink;
  bool Force; ///< run without -capri-shrink-yield-frames (the opt pass name)
};

} // namespace capri

#endif
