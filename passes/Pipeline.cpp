//===-- Pipeline.cpp - the capri pipeline and where it runs ---------------===//
#include "Pipeline.h"
#include "CapriOptions.h"
#include "MetadataEmitter.h"
#include "Report.h"
#include "TypeIdentity.h"

#include "Diagnostic.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/Module.h"

using namespace llvm;

namespace capri {

LTOPhase ltoPhaseOf(const Module &M) {
  // clang marks every LTO pre-link module with EnableSplitLTOUnit, and full
  // LTO ones also with ThinLTO = 0.
  if (!M.getModuleFlag("EnableSplitLTOUnit"))
    return LTOPhase::None;
  if (auto *Thin = mdconst::extract_or_null<ConstantInt>(M.getModuleFlag("ThinLTO")))
    return Thin->isZero() ? LTOPhase::FullPreLink : LTOPhase::ThinPreLink;
  return LTOPhase::ThinPreLink;
}

PreservedAnalyses CapriPipelinePass::run(Module &M, ModuleAnalysisManager &MAM) {
  PreservedAnalyses PA = CapriTypeIdsPass().run(M, MAM);
  MAM.invalidate(M, PA);
  if (!AtLTOLink) {
    switch (ltoPhaseOf(M)) {
    case LTOPhase::None:
      break;
    case LTOPhase::FullPreLink:
      // The link analyses the whole program; give it the plugin with
      // -Wl,--load-pass-plugin=<plugin> (capri-cc does).
      return PreservedAnalyses::none();
    case LTOPhase::ThinPreLink:
      diagnose(M.getContext(),
               "capri: ThinLTO (-flto=thin) is not supported; use full LTO "
               "(-flto) or no LTO",
               DS_Error);
      return PreservedAnalyses::none();
    }
  }
  CapriReportPass().run(M, MAM);
  if (EmitMetadata)
    CapriEmitMetadataPass(AtLTOLink).run(M, MAM);
  return PreservedAnalyses::none();
}

} // namespace capri
