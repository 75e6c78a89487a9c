//===-- Report.cpp - remarks and recursion diagnostics --------------------===//
#include "Report.h"
#include "CapriOptions.h"
#include "CheckpointPlacement.h"
#include "Diagnostic.h"
#include "Pipeline.h"
#include "StackAnalysis.h"

#include "llvm/Analysis/OptimizationRemarkEmitter.h"
#include "llvm/IR/DebugInfoMetadata.h"
#include "llvm/IR/DiagnosticInfo.h"
#include "llvm/IR/Function.h"
#include "llvm/IR/Module.h"

using namespace llvm;

namespace capri {

namespace {

std::string where(const Function &F) {
  const DISubprogram *SP = F.getSubprogram();
  if (!SP)
    return "";
  return (SP->getFilename() + ":" + Twine(SP->getLine())).str();
}

std::string describeCycle(const RecursionCycle &C) {
  std::string S;
  raw_string_ostream OS(S);
  for (size_t I = 0; I < C.Functions.size(); ++I) {
    const Function *F = C.Functions[I];
    OS << F->getName();
    std::string W = where(*F);
    if (!W.empty())
      OS << " (" << W << ")";
    OS << " -> ";
  }
  OS << C.Functions.front()->getName();
  return OS.str();
}

/// One remark per checkpoint (-Rpass-analysis=capri-checkpoint), one per
/// function with an unchecked call over MaxPath or a cycle with no check.
void reportCheckpoints(Module &M, const CheckpointPlacementInfo &CP,
                       FunctionAnalysisManager &FAM) {
  for (Function &F : M) {
    const FunctionPlacement *P = CP.get(&F);
    if (!P)
      continue;
    auto &ORE = FAM.getResult<OptimizationRemarkEmitterAnalysis>(F);
    for (unsigned I : P->Checkpoints) {
      const Checkpoint &C = CP.Checkpoints[I];
      ORE.emit([&] {
        OptimizationRemarkAnalysis R("capri-checkpoint", "Checkpoint", C.Site);
        R << "checkpoint (" << ore::NV("Reason", reasonName(C.Reason)) << ")";
        if (C.Reason == CheckpointReason::DynamicAlloca)
          R << " before a variable-size alloca: region " << ore::NV("RegionBytes", C.Region)
            << " bytes plus its size";
        else
          R << " at a call to " << ore::NV("Callee", C.CalleeLabel) << ": region "
            << ore::NV("RegionBytes", C.Region) << " bytes";
        return R;
      });
    }
    if (P->UncheckedCall != UncutReason::None)
      ORE.emit([&] {
        OptimizationRemarkAnalysis R("capri-checkpoint", "UncheckedCall", &F);
        R << "a call that cannot be a checkpoint ("
          << ore::NV("Reason", uncutReasonName(P->UncheckedCall)) << ") makes the region "
          << ore::NV("RegionBytes", P->EntryRegion) << " bytes: the calls into "
          << F.getName() << " are checked for it";
        return R;
      });
    if (P->UncheckedCycle)
      ORE.emit([&] {
        OptimizationRemarkAnalysis R("capri-checkpoint", "UncheckedCycle", &F);
        R << "a call cycle through " << ore::NV("Function", F.getName())
          << " has no checkpoint (capri.no_checkpoints): its stack use is not bounded";
        return R;
      });
  }
}

} // namespace

PreservedAnalyses CapriReportPass::run(Module &M, ModuleAnalysisManager &MAM) {
  if (!analysesModule(M, AtLTOLink))
    return PreservedAnalyses::all();
  const StackAnalysisInfo &SA = MAM.getResult<CapriStackAnalysis>(M);
  auto &FAM = MAM.getResult<FunctionAnalysisManagerModuleProxy>(M).getManager();

  std::vector<std::pair<const Function *, std::string>> Malformed;
  recursionBounds(M, &Malformed);
  for (const auto &[F, Text] : Malformed) {
    std::string Loc = where(*F);
    diagnose(M.getContext(),
             (Loc.empty() ? "" : Loc + ": ") + "capri: CAPRI_RECURSION_BOUND(" + Text +
                 ") on " + F->getName().str() +
                 " is not a depth from 1 to 4294967295; the annotation is ignored",
             DS_Warning);
  }

  for (Function &F : M) {
    const StackInfo *SI = SA.get(&F);
    if (!SI)
      continue;
    const FrameBound &FB = FAM.getResult<CapriFrameAnalysis>(F);
    auto &ORE = FAM.getResult<OptimizationRemarkEmitterAnalysis>(F);
    ORE.emit([&] {
      OptimizationRemarkAnalysis R("capri-frame", "FrameBound", &F);
      R << "frame bound " << ore::NV("FrameBytes", FB.Total) << " bytes (allocas "
        << ore::NV("Allocas", FB.Allocas) << ", spills " << ore::NV("Spills", FB.Spills)
        << ", fixed " << ore::NV("Fixed", FB.Fixed + FB.OutgoingArgs + FB.VarargsArea + FB.Realign)
        << "); worst path " << ore::NV("WorstBytes", SI->Worst)
        << (SI->Unbounded ? "+unbounded" : "") << " bytes:";
      for (const std::string &P : SA.worstPath(&F))
        R << " " << P;
      return R;
    });
  }

  reportCheckpoints(M, MAM.getResult<CapriCheckpointAnalysis>(M), FAM);

  if (RecursionDiagnostic == RecursionSeverity::Off)
    return PreservedAnalyses::all();
  for (const RecursionCycle &C : SA.Cycles) {
    const Function &Head = *C.Functions.front();
    std::string Text = (C.Bounded ? "bounded recursion (declared depth " +
                                        std::to_string(C.DepthSum) + "): "
                                  : std::string("unbounded recursion: ")) +
                       describeCycle(C);
    // A cycle bounded by declarations is information, never a warning.
    if (C.Bounded || RecursionDiagnostic == RecursionSeverity::Remark) {
      auto &ORE = FAM.getResult<OptimizationRemarkEmitterAnalysis>(const_cast<Function &>(Head));
      ORE.emit([&] {
        OptimizationRemarkAnalysis R("capri-recursion", "Recursion", &Head);
        R << Text;
        return R;
      });
      continue;
    }
    DiagnosticSeverity Sev =
        RecursionDiagnostic == RecursionSeverity::Error ? DS_Error : DS_Warning;
    std::string Loc = where(Head);
    diagnose(M.getContext(), (Loc.empty() ? "" : Loc + ": ") + "capri: " + Text, Sev);
  }
  return PreservedAnalyses::all();
}

} // namespace capri
