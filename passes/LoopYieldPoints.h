//===-- LoopYieldPoints.h - preemption checks on loop back edges ----------===//
//
// A compute-bound loop with no yield site would keep every other thread of
// its scheduler waiting: each back edge gets a two-instruction check of the
// preemption bit of the stack-limit word (docs/yield-design.md, "Loop yield
// points"; docs/plugin.md, "Loop yield points"):
//
//   testb $0x40, %fs:0x77   ; bit 62 of %fs:0x70, LIMIT_PREEMPT
//   jne   .Lcold            ; call __capri_loop_yield (preserve_all)
//
// Call-free counted innermost loops get one check per chunk of iterations
// instead (LoopChunking.h). Exempt: back edges whose latch is dominated by
// a call that always passes through the scheduler (capri_yield) or by a
// checkpointed call (its check reads the same word, and its slow path
// takes the preemption), call-free loops with a small constant maximum trip
// count (-capri-loop-min-trip, or at most one chunk), functions annotated
// capri.no_yield_points, loops that call capri_no_yield_here() (the pass
// deletes those calls in every case), and everything with
// -capri-loop-yield-points=0.
//
//===----------------------------------------------------------------------===//
#ifndef CAPRI_LOOP_YIELD_POINTS_H
#define CAPRI_LOOP_YIELD_POINTS_H

#include "llvm/IR/PassManager.h"

namespace capri {

struct CapriLoopYieldPass : llvm::PassInfoMixin<CapriLoopYieldPass> {
  explicit CapriLoopYieldPass(bool AtLTOLink = false) : AtLTOLink(AtLTOLink) {}
  llvm::PreservedAnalyses run(llvm::Module &M, llvm::ModuleAnalysisManager &MAM);
  static bool isRequired() { return true; }

private:
  bool AtLTOLink;
};

/// The name of the runtime's cold-path stub and of the opt-out call.
constexpr const char *LoopYieldStub = "__capri_loop_yield";
constexpr const char *NoYieldHere = "capri_no_yield_here";
/// The module's own trampoline to the stub (internal: a direct call).
constexpr const char *LoopYieldLocal = "__capri_loop_yield.local";

} // namespace capri

#endif
