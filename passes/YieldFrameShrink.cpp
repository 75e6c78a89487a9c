//===-- YieldFrameShrink.cpp - keep dead objects out of blocked frames ----===//
#include "YieldFrameShrink.h"
#include "CapriOptions.h"
#include "CheckpointPlacement.h"
#include "FrameBound.h"
#include "LiveState.h"
#include "MetadataEmitter.h"
#include "Pipeline.h"
#include "YieldSites.h"

#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/ADT/Statistic.h"
#include "llvm/Analysis/OptimizationRemarkEmitter.h"
#include "llvm/IR/Dominators.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/IntrinsicInst.h"
#include "llvm/IR/Module.h"
#include "llvm/Transforms/Utils/CodeExtractor.h"

using namespace llvm;

#define DEBUG_TYPE "capri-shrink"

STATISTIC(NumShrunk, "Stack objects moved out of frames that block");
STATISTIC(NumShrunkBytes, "Bytes of stack objects moved out of frames that block");

namespace capri {

namespace {

struct Candidate {
  AllocaInst *Alloca;
  std::string Name;
  uint64_t Size;
};

/// Why an object is not moved ("" when it can be), and the region if so.
std::string regionFor(AllocaInst &AI, SmallVectorImpl<BasicBlock *> &Blocks) {
  // One start; one end or several (an inlined function ends the lifetime
  // before each of its returns), each in a block of its own.
  IntrinsicInst *Start = nullptr;
  SmallVector<IntrinsicInst *, 2> Ends;
  for (User *U : AI.users()) {
    auto *II = dyn_cast<IntrinsicInst>(U);
    if (!II || !II->isLifetimeStartOrEnd())
      continue;
    if (II->getIntrinsicID() == Intrinsic::lifetime_end) {
      Ends.push_back(II);
      continue;
    }
    if (Start)
      return "its lifetime has more than one start";
    Start = II;
  }
  if (!Start || Ends.empty())
    return "it has no lifetime markers";
  Function &F = *AI.getFunction();
  DominatorTree DT(F);
  SmallPtrSet<BasicBlock *, 4> EndBlocks;
  for (IntrinsicInst *End : Ends) {
    if (!DT.dominates(Start, End))
      return "its lifetime start does not dominate its end";
    if (!EndBlocks.insert(End->getParent()).second)
      return "its lifetime ends twice in one block";
  }
  // The region: from the start to the ends, split out of their blocks.
  BasicBlock *Entry = Start->getParent();
  if (Start != &*Entry->getFirstInsertionPt() || Entry == &F.getEntryBlock())
    Entry = Entry->splitBasicBlock(Start, Entry->getName() + ".capri.shrink");
  SmallPtrSet<BasicBlock *, 4> Exits;
  for (IntrinsicInst *End : Ends)
    Exits.insert(End->getParent()->splitBasicBlock(End->getNextNode(),
                                                   End->getParent()->getName() + ".capri.after"));
  // Every block reachable from the entry without passing an exit; the
  // region must not reach a return (it is left only after an end; the
  // extractor joins several exits) nor be entered but through its entry.
  SmallPtrSet<BasicBlock *, 16> In;
  SmallVector<BasicBlock *, 16> Work{Entry};
  In.insert(Entry);
  while (!Work.empty()) {
    BasicBlock *B = Work.pop_back_val();
    if (succ_empty(B))
      return "its lifetime region is left other than through the lifetime's end";
    for (BasicBlock *S : successors(B))
      if (!Exits.count(S) && In.insert(S).second)
        Work.push_back(S);
  }
  DT.recalculate(F);
  for (BasicBlock *B : In) {
    if (!DT.dominates(Entry, B))
      return "its lifetime region has more than one entry";
    if (B != Entry)
      for (BasicBlock *P : predecessors(B))
        if (!In.count(P))
          return "its lifetime region has more than one entry";
    for (Instruction &I : *B) {
      if (isa<AllocaInst>(I))
        return "its lifetime region contains another alloca";
      if (auto *CB = dyn_cast<CallBase>(&I)) {
        if (CB->hasFnAttr(Attribute::ReturnsTwice))
          return "its lifetime region calls a function that returns twice";
        if (auto *CI = dyn_cast<CallInst>(CB); CI && CI->isMustTailCall())
          return "its lifetime region contains a musttail call";
      }
      if (I.isEHPad())
        return "its lifetime region contains an exception handler";
    }
  }
  for (User *U : AI.users())
    if (auto *I = dyn_cast<Instruction>(U); !I || !In.count(I->getParent()))
      return "it is used outside its lifetime region";
  // In function order, entry first.
  for (BasicBlock &B : F)
    if (In.count(&B))
      Blocks.push_back(&B);
  return "";
}

/// The extractor sinks an object into the new function only when its
/// lifetime has one start and one end; with several ends it passes the
/// object's address to the new function's call instead. Every use of the
/// object is in the region, so the new function can own it: a local of its
/// own replaces the argument, and the call passes poison. False when the
/// object has other uses than the call and lifetime markers, or is passed
/// twice.
bool sinkIntoExtracted(AllocaInst &AI, CallBase &Call) {
  // The extractor may have put lifetime markers around the call.
  SmallVector<IntrinsicInst *, 2> Markers;
  for (User *U : AI.users()) {
    if (U == &Call)
      continue;
    auto *II = dyn_cast<IntrinsicInst>(U);
    if (!II || !II->isLifetimeStartOrEnd())
      return false;
    Markers.push_back(II);
  }
  unsigned Index = Call.arg_size(), Passed = 0;
  for (unsigned I = 0; I < Call.arg_size(); ++I)
    if (Call.getArgOperand(I) == &AI)
      Index = I, ++Passed;
  if (Passed != 1)
    return false;
  Function &NF = *Call.getCalledFunction();
  Argument *Arg = NF.getArg(Index);
  auto *Local = new AllocaInst(AI.getAllocatedType(), AI.getAddressSpace(), AI.getArraySize(),
                               AI.getAlign(), AI.getName(),
                               NF.getEntryBlock().getFirstInsertionPt());
  Arg->replaceAllUsesWith(Local);
  Local->takeName(Arg);
  Call.setArgOperand(Index, PoisonValue::get(AI.getType()));
  for (IntrinsicInst *II : Markers)
    II->eraseFromParent();
  AI.eraseFromParent();
  return true;
}

} // namespace

PreservedAnalyses CapriYieldFrameShrinkPass::run(Module &M, ModuleAnalysisManager &MAM) {
  if ((!ShrinkYieldFrames && !Force) || !analysesModule(M, AtLTOLink) ||
      M.getNamedGlobal(RecordGlobalName))
    return PreservedAnalyses::all();
  bool Changed = false;
  SmallPtrSet<const AllocaInst *, 8> Refused;
  SmallPtrSet<const Function *, 8> Told; // functions whose live objects were remarked
  // One object per round: each extraction changes the function, so the
  // sites and the live state are computed again.
  for (unsigned Round = 0; Round < 64; ++Round) {
    const YieldSiteInfo &YS = MAM.getResult<CapriYieldSiteAnalysis>(M);
    auto &FAM = MAM.getResult<FunctionAnalysisManagerModuleProxy>(M).getManager();
    bool Moved = false;
    std::vector<std::pair<Function *, std::vector<YieldSite>>> Work;
    for (const auto &[F, Sites] : YS.Sites)
      Work.push_back({const_cast<Function *>(F), Sites});
    for (auto &Item : Work) {
      Function *F = Item.first;
      const std::vector<YieldSite> &Sites = Item.second;
      if (F->hasOptNone() || F->hasFnAttribute("capri-thunk"))
        continue;
      auto &ORE = FAM.getResult<OptimizationRemarkEmitterAnalysis>(*F);
      std::vector<const CallBase *> Calls;
      for (const YieldSite &S : Sites)
        Calls.push_back(S.Call);
      FunctionLiveState LS = computeLiveState(*F, Calls, FAM.getResult<CapriFrameAnalysis>(*F));
      // The objects over the threshold that are dead at one site at least:
      // a thread blocked there need not hold them. (At the sites inside
      // the object's lifetime region it still does, one call deeper.)
      std::vector<Candidate> Candidates;
      bool Tell = Told.insert(F).second;
      auto DeadSomewhere = [&](const AllocaInst *A) {
        return any_of(LS.Sites, [&](const auto &Site) {
          return any_of(Site.second.DeadObjects,
                        [&](const StackObject &X) { return X.Alloca == A; });
        });
      };
      for (const auto &KV : LS.Sites)
        for (const StackObject &O : KV.second.LiveObjectList)
          if (Tell && O.Size >= ShrinkThreshold && !KV.second.NoLifetimes &&
              !DeadSomewhere(O.Alloca))
            ORE.emit([&] {
              OptimizationRemarkMissed R(DEBUG_TYPE, "LiveAtSite", KV.first);
              bool Markers = any_of(O.Alloca->users(), [](const User *U) {
                auto *II = dyn_cast<IntrinsicInst>(U);
                return II && II->isLifetimeStartOrEnd();
              });
              R << "not moving " << O.Name << " (" << ore::NV("Bytes", O.Size) << " bytes): "
                << (Markers ? "it is in scope (its lifetime) at every yield site"
                            : "it has no lifetime markers, so it is live everywhere");
              return R;
            });
      for (const auto &KV : LS.Sites)
        for (const StackObject &O : KV.second.DeadObjects) {
          if (O.Size < ShrinkThreshold)
            continue;
          bool Seen = any_of(Candidates, [&](const Candidate &C) { return C.Alloca == O.Alloca; });
          if (!Seen && !Refused.count(O.Alloca))
            Candidates.push_back({const_cast<AllocaInst *>(O.Alloca), O.Name, O.Size});
        }
      for (Candidate &C : Candidates) {
        SmallVector<BasicBlock *, 16> Blocks;
        std::string Why = regionFor(*C.Alloca, Blocks);
        Changed = true; // the region's blocks may have been split out
        Function *NF = nullptr;
        if (Why.empty()) {
          DominatorTree DT(*F);
          CodeExtractor CE(Blocks, &DT, /*AggregateArgs=*/false, nullptr, nullptr, nullptr,
                           /*AllowVarArgs=*/false, /*AllowAlloca=*/false, nullptr,
                           "capri.shrink");
          if (!CE.isEligible()) {
            Why = "LLVM's code extractor refuses its lifetime region";
          } else {
            CodeExtractorAnalysisCache CEAC(*F);
            NF = CE.extractCodeRegion(CEAC);
            if (!NF)
              Why = "LLVM's code extractor failed on its lifetime region";
          }
        }
        if (!NF) {
          Refused.insert(C.Alloca);
          ORE.emit([&] {
            OptimizationRemarkMissed R(DEBUG_TYPE, "NotMoved", C.Alloca);
            R << "not moving " << C.Name << " (" << ore::NV("Bytes", C.Size) << " bytes) out of "
              << F->getName() << ": " << Why;
            return R;
          });
          continue;
        }
        NF->addFnAttr(Attribute::NoInline);
        NF->removeFnAttr(Attribute::AlwaysInline);
        // The extractor replaces the region with one call to the new
        // function. A checkpoint on it: the moved code runs on a chunk
        // taken for it and given back, not on the one the waiting frame
        // keeps.
        CallBase *Call = NF->hasOneUse() ? dyn_cast<CallBase>(NF->user_back()) : nullptr;
        if (Call)
          Call->setMetadata(ForcedCheckpointMD, MDNode::get(M.getContext(), {}));
        bool Owned = C.Alloca->getFunction() == NF;
        if (!Owned && Call)
          Owned = sinkIntoExtracted(*C.Alloca, *Call);
        const Instruction *At = Call ? Call : &*F->getEntryBlock().getFirstInsertionPt();
        ORE.emit([&] {
          OptimizationRemark R(DEBUG_TYPE, "Moved", At);
          R << "moved " << C.Name << " (" << ore::NV("Bytes", C.Size) << " bytes) out of the "
            << "frame of " << F->getName() << " into " << ore::NV("Function", NF->getName());
          if (!Owned)
            R << " (but the extractor left the object in the caller's frame)";
          return R;
        });
        if (Owned) {
          ++NumShrunk;
          NumShrunkBytes += C.Size;
        }
        Changed = Moved = true;
        break; // the function changed: its state is computed again
      }
      if (Moved)
        break;
    }
    if (!Moved)
      break;
    MAM.invalidate(M, PreservedAnalyses::none());
  }
  return Changed ? PreservedAnalyses::none() : PreservedAnalyses::all();
}

} // namespace capri
