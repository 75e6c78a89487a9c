//===-- CheckpointInstrumentation.h - the checks at checkpoints -----------===//
//
// Inserts the checks CheckpointPlacement chose (docs/stack-growth-design.md,
// "The check"). At a checkpointed call the stack pointer is compared with
// the thread's limit word at %fs:0x70:
//
//   region <= slack:   cmp %fs:0x70, %rsp ; jb grow
//   larger regions:    the bound from the module's bounds table (which the
//                      runtime may rewrite at start-up), added to the limit,
//                      compared with %rsp
//
// The original call stays on the fast path, untouched (a tail call stays a
// jmp). The slow path stores the arguments in a block on the caller's frame
// and calls __morestack(thunk, block, need), which runs the thunk, and so
// the call, on a new chunk (CallOutlining.h). Dynamic allocas are left
// unchecked for now (remark). The original call carries !capri.checkpoint
// metadata: { reason, region, bounds-table index or -1, stack-argument
// bytes }, and every placed function !capri.entry_region: the emitter
// writes both into the record (docs/metadata.md, 1.2).
//
//===----------------------------------------------------------------------===//
#ifndef CAPRI_CHECKPOINT_INSTRUMENTATION_H
#define CAPRI_CHECKPOINT_INSTRUMENTATION_H

#include "llvm/IR/PassManager.h"

namespace capri {

struct CapriInstrumentPass : llvm::PassInfoMixin<CapriInstrumentPass> {
  explicit CapriInstrumentPass(bool AtLTOLink = false) : AtLTOLink(AtLTOLink) {}
  llvm::PreservedAnalyses run(llvm::Module &M, llvm::ModuleAnalysisManager &MAM);
  static bool isRequired() { return true; }

private:
  bool AtLTOLink;
};

/// The most a bounds-table entry may hold: with stacks above 2^40 (the
/// runtime checks), `sp - bound` cannot wrap.
constexpr uint64_t MaxRegionBound = uint64_t(1) << 40;

} // namespace capri

#endif
