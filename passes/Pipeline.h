//===-- Pipeline.h - the capri pipeline and where it runs -----------------===//
//
// Without LTO the pipeline runs at the optimizer-last extension point of each
// compile. Under full LTO, clang's -fpass-plugin runs only in the per-file
// pre-link compile, and the link (lld --load-pass-plugin) runs only the
// full-LTO-last point: the pre-link compile then only converts type
// identities (so none of KCFI reaches the object), and the link analyses the
// whole program and writes one record. A pre-link compile is recognised by
// the LTO module flags clang sets. ThinLTO would run the optimizer-last
// point twice with nothing to tell the runs apart, so it is rejected.
//
//===----------------------------------------------------------------------===//
#ifndef CAPRI_PIPELINE_H
#define CAPRI_PIPELINE_H

#include "llvm/IR/PassManager.h"

namespace capri {

struct CapriPipelinePass : llvm::PassInfoMixin<CapriPipelinePass> {
  /// AtLTOLink: running at the full-LTO link, on the whole program.
  explicit CapriPipelinePass(bool AtLTOLink) : AtLTOLink(AtLTOLink) {}
  llvm::PreservedAnalyses run(llvm::Module &M, llvm::ModuleAnalysisManager &MAM);
  static bool isRequired() { return true; }

private:
  bool AtLTOLink;
};

enum class LTOPhase { None, FullPreLink, ThinPreLink };
LTOPhase ltoPhaseOf(const llvm::Module &M);

} // namespace capri

#endif
