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
// The pipeline is a sequence of ordinary passes (check, type ids, report,
// metadata), so -debug-pass-manager, -print-after and -time-passes see each.
//
//===----------------------------------------------------------------------===//
#ifndef CAPRI_PIPELINE_H
#define CAPRI_PIPELINE_H

#include "llvm/IR/PassManager.h"
#include <string>

namespace capri {

enum class LTOPhase { None, FullPreLink, ThinPreLink };
LTOPhase ltoPhaseOf(const llvm::Module &M);

/// What the plugin cannot handle in M, as an error message ("" when fine).
std::string unsupportedReason(const llvm::Module &M);

/// Whether the report and metadata passes analyse M: a supported module,
/// compiled without LTO or seen at the full-LTO link.
bool analysesModule(const llvm::Module &M, bool AtLTOLink);

/// Refuses, with an error, what the plugin cannot handle: other targets,
/// -fsplit-stack, ThinLTO and unified LTO.
struct CapriCheckPass : llvm::PassInfoMixin<CapriCheckPass> {
  explicit CapriCheckPass(bool AtLTOLink) : AtLTOLink(AtLTOLink) {}
  llvm::PreservedAnalyses run(llvm::Module &M, llvm::ModuleAnalysisManager &);
  static bool isRequired() { return true; }

private:
  bool AtLTOLink;
};

/// Adds the whole pipeline; AtLTOLink: at the full-LTO link.
void addCapriPipeline(llvm::ModulePassManager &MPM, bool AtLTOLink);

} // namespace capri

#endif
