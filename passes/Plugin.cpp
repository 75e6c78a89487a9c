//===-- Plugin.cpp - registration of the capri pass plugin ----------------===//
//
// Loaded with clang -fpass-plugin=CapriPlugin.so (and -Xclang -load -Xclang
// CapriPlugin.so for -mllvm -capri-... options), opt -load-pass-plugin, or
// lld --load-pass-plugin for full LTO. New pass manager only; every pass is
// required, so -O0 (optnone) functions are analysed too.
//
//===----------------------------------------------------------------------===//
#include "CallGraph.h"
#include "CheckpointInstrumentation.h"
#include "CheckpointPlacement.h"
#include "FrameBound.h"
#include "LoopYieldPoints.h"
#include "MetadataEmitter.h"
#include "Pipeline.h"
#include "Report.h"
#include "StackAnalysis.h"
#include "TypeIdentity.h"
#include "YieldFrameShrink.h"
#include "YieldSites.h"

#include "llvm/Passes/PassBuilder.h"
#include "llvm/Passes/PassPlugin.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;
using namespace capri;

namespace {

bool parseModulePass(StringRef Name, ModulePassManager &MPM,
                     ArrayRef<PassBuilder::PipelineElement>) {
  if (Name == "capri" || Name == "capri-lto") {
    addCapriPipeline(MPM, /*AtLTOLink=*/Name == "capri-lto");
    return true;
  }
  if (Name == "capri-check") {
    MPM.addPass(CapriCheckPass(/*AtLTOLink=*/false));
    return true;
  }
  if (Name == "capri-instrument") {
    MPM.addPass(CapriInstrumentPass());
    return true;
  }
  if (Name == "capri-loop-yield") {
    MPM.addPass(CapriLoopYieldPass());
    return true;
  }
  if (Name == "capri-type-ids") {
    MPM.addPass(CapriTypeIdsPass());
    return true;
  }
  if (Name == "capri-report") {
    MPM.addPass(CapriReportPass());
    return true;
  }
  if (Name == "capri-emit-metadata") {
    MPM.addPass(CapriEmitMetadataPass());
    return true;
  }
  if (Name == "capri-shrink-yield-frames") {
    MPM.addPass(CapriYieldFrameShrinkPass(/*AtLTOLink=*/false, /*Force=*/true));
    return true;
  }
  if (Name == "capri-yield-sites") {
    MPM.addPass(CapriYieldSitesPass());
    return true;
  }
  if (Name == "print<capri-yield-sites>") {
    MPM.addPass(CapriYieldSitePrinter(outs()));
    return true;
  }
  if (Name == "print<capri-callgraph>") {
    MPM.addPass(CapriCallGraphPrinter(outs()));
    return true;
  }
  if (Name == "print<capri-stack>") {
    MPM.addPass(CapriStackPrinter(outs()));
    return true;
  }
  if (Name == "print<capri-checkpoints>") {
    MPM.addPass(CapriCheckpointPrinter(outs()));
    return true;
  }
  return false;
}

bool parseFunctionPass(StringRef Name, FunctionPassManager &FPM,
                       ArrayRef<PassBuilder::PipelineElement>) {
  if (Name == "print<capri-frame>") {
    FPM.addPass(CapriFramePrinter(outs()));
    return true;
  }
  return false;
}

void registerCallbacks(PassBuilder &PB) {
  PB.registerAnalysisRegistrationCallback([](ModuleAnalysisManager &MAM) {
    MAM.registerPass([] { return CapriCallGraphAnalysis(); });
    MAM.registerPass([] { return CapriStackAnalysis(); });
    MAM.registerPass([] { return CapriCheckpointAnalysis(); });
    MAM.registerPass([] { return CapriYieldSiteAnalysis(); });
  });
  PB.registerAnalysisRegistrationCallback([](FunctionAnalysisManager &FAM) {
    FAM.registerPass([] { return CapriFrameAnalysis(); });
  });
  PB.registerPipelineParsingCallback(parseModulePass);
  PB.registerPipelineParsingCallback(parseFunctionPass);

  PB.registerOptimizerLastEPCallback([](ModulePassManager &MPM, OptimizationLevel) {
    addCapriPipeline(MPM, /*AtLTOLink=*/false);
  });
  PB.registerFullLinkTimeOptimizationLastEPCallback(
      [](ModulePassManager &MPM, OptimizationLevel) {
        addCapriPipeline(MPM, /*AtLTOLink=*/true);
      });
}

} // namespace

extern "C" LLVM_ATTRIBUTE_WEAK PassPluginLibraryInfo llvmGetPassPluginInfo() {
  return {LLVM_PLUGIN_API_VERSION, "capri", "0.1", registerCallbacks};
}
