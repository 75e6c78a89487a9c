//===-- Pipeline.cpp - the capri pipeline and where it runs ---------------===//
#include "Pipeline.h"
#include "CheckpointInstrumentation.h"
#include "LoopYieldPoints.h"
#include "MetadataEmitter.h"
#include "Report.h"
#include "TypeIdentity.h"
#include "YieldFrameShrink.h"
#include "YieldSites.h"

#include "CapriOptions.h"
#include "Diagnostic.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/Module.h"
#include "llvm/TargetParser/Triple.h"

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

/// What the plugin cannot handle, as an error message ("" when fine). The
/// frame model and the record are for x86-64 with 64-bit pointers; gcc-style
/// split stacks compare against the same thread-control-block word capri
/// uses and call a __morestack of their own.
std::string unsupportedReason(const Module &M) {
  Triple T(M.getTargetTriple());
  if (T.getArch() != Triple::x86_64 || T.isX32() || M.getDataLayout().getPointerSize() != 8 ||
      !M.getDataLayout().isLittleEndian())
    return "capri: target " + M.getTargetTriple() +
           " is not supported (capri supports x86_64 with 64-bit pointers)";
  for (const Function &F : M)
    if (F.hasFnAttribute("split-stack"))
      return "capri: " + F.getName().str() +
             " is compiled with -fsplit-stack, which uses the stack-limit word capri "
             "uses; remove -fsplit-stack";
  if (M.getModuleFlag("UnifiedLTO"))
    return "capri: -funified-lto is not supported; use -flto (full LTO) or no LTO";
  return "";
}

bool analysesModule(const Module &M, bool AtLTOLink) {
  return unsupportedReason(M).empty() && (AtLTOLink || ltoPhaseOf(M) == LTOPhase::None);
}

namespace {

/// The plugin's options travel to a full-LTO link as module flags (lld
/// parses -mllvm options before it loads pass plugins, so they cannot be
/// given there). When files were compiled with different values, the
/// link takes the safe one: the smallest MaxPath, the largest reserve and
/// chunk, instrumentation if any file asked for it; the slack must agree
/// with the runtime, so a difference is an error.
struct OptionFlag {
  const char *Name;
  Module::ModFlagBehavior Merge;
  cl::opt<unsigned> *UnsignedOpt;
  cl::opt<bool> *BoolOpt;
};

const OptionFlag OptionFlags[] = {
    {"capri-max-path", Module::Min, &MaxPath, nullptr},
    {"capri-external-reserve", Module::Max, &ExternalReserve, nullptr},
    {"capri-min-chunk", Module::Max, &MinChunk, nullptr},
    {"capri-slack", Module::Error, &Slack, nullptr},
    {"capri-instrument", Module::Max, nullptr, &Instrument},
    {"capri-yield-sites", Module::Max, nullptr, &YieldSites},
    {"capri-shrink-yield-frames", Module::Max, nullptr, &ShrinkYieldFrames},
    {"capri-shrink-threshold", Module::Min, &ShrinkThreshold, nullptr},
    // Loop yield points if any file asked for them, the smallest trip count.
    {"capri-loop-yield-points", Module::Max, nullptr, &LoopYieldPoints},
    {"capri-loop-min-trip", Module::Min, &LoopMinTrip, nullptr},
    {"capri-loop-chunk-work", Module::Min, &LoopChunkWork, nullptr},
};

void writeOptionFlags(Module &M) {
  for (const OptionFlag &F : OptionFlags)
    if (!M.getModuleFlag(F.Name))
      M.addModuleFlag(F.Merge, F.Name,
                      F.UnsignedOpt ? unsigned(*F.UnsignedOpt) : unsigned(bool(*F.BoolOpt)));
}

void readOptionFlags(const Module &M) {
  for (const OptionFlag &F : OptionFlags) {
    auto *V = mdconst::extract_or_null<ConstantInt>(M.getModuleFlag(F.Name));
    if (!V)
      continue;
    if (F.UnsignedOpt)
      *F.UnsignedOpt = static_cast<unsigned>(V->getZExtValue());
    else
      *F.BoolOpt = !V->isZero();
  }
}

} // namespace

PreservedAnalyses CapriCheckPass::run(Module &M, ModuleAnalysisManager &) {
  std::string Problem = unsupportedReason(M);
  if (Problem.empty() && !AtLTOLink && ltoPhaseOf(M) == LTOPhase::ThinPreLink)
    Problem = "capri: ThinLTO (-flto=thin) is not supported; use full LTO (-flto) or no LTO";
  if (!Problem.empty()) {
    diagnose(M.getContext(), Problem, DS_Error);
    return PreservedAnalyses::all();
  }
  if (!AtLTOLink && ltoPhaseOf(M) == LTOPhase::FullPreLink) {
    writeOptionFlags(M);
    return PreservedAnalyses::none();
  }
  if (AtLTOLink)
    readOptionFlags(M);
  // A full-LTO pre-link compile is left to the link, which analyses the
  // whole program: give it the plugin with -Wl,--load-pass-plugin=<plugin>
  // (capri-cc does).
  return PreservedAnalyses::all();
}

void addCapriPipeline(ModulePassManager &MPM, bool AtLTOLink) {
  MPM.addPass(CapriCheckPass(AtLTOLink));
  MPM.addPass(CapriTypeIdsPass());
  // Loop yield points first: they delete the capri_no_yield_here() calls
  // (which the yield-site analysis would take for unknown sites) and their
  // cold calls are instrumentation, which no later pass counts.
  MPM.addPass(CapriLoopYieldPass(AtLTOLink));
  // Before placement and instrumentation: live state is measured on the
  // program's own frames, and the site-word stores sit before the checks.
  MPM.addPass(CapriYieldFrameShrinkPass(AtLTOLink));
  MPM.addPass(CapriYieldSitesPass(AtLTOLink));
  MPM.addPass(CapriReportPass(AtLTOLink));
  MPM.addPass(CapriInstrumentPass(AtLTOLink));
  MPM.addPass(CapriEmitMetadataPass(AtLTOLink));
}

} // namespace capri
