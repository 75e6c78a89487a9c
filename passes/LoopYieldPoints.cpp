//===-- LoopYieldPoints.cpp - preemption checks on loop back edges --------===//
#include "LoopYieldPoints.h"
#include "CapriOptions.h"
#include "CheckpointPlacement.h"
#include "LimitWord.h"
#include "LoopChunking.h"
#include "Pipeline.h"
#include "StackAnalysis.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/ADT/Statistic.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Analysis/CFG.h"
#include "llvm/Analysis/LoopInfo.h"
#include "llvm/Analysis/OptimizationRemarkEmitter.h"
#include "llvm/Analysis/ScalarEvolution.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/Dominators.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/InstIterator.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/IntrinsicInst.h"
#include "llvm/IR/MDBuilder.h"
#include "llvm/IR/Module.h"
#include "llvm/Transforms/Utils/BasicBlockUtils.h"

#include <optional>

using namespace llvm;

#define DEBUG_TYPE "capri-loop-yield"

STATISTIC(NumLoopChecks, "Back edges given a loop yield point");
STATISTIC(NumExemptYield, "Back edges exempt: a call through the scheduler dominates the latch");
STATISTIC(NumExemptShort, "Back edges exempt: a small constant trip count and no calls");
STATISTIC(NumExemptCheckpoint, "Back edges exempt: a checkpoint, which polls too, runs on every iteration");
STATISTIC(NumChunked, "Counted loops given one check per chunk of iterations");
STATISTIC(NumExemptFunction, "Back edges exempt: the function is annotated capri.no_yield_points");
STATISTIC(NumExemptLoop, "Back edges exempt: the loop calls capri_no_yield_here()");
STATISTIC(NumNoYieldHere, "capri_no_yield_here() calls deleted");
STATISTIC(NumUnsplittable, "Back edges left without a check: the edge cannot be split");

namespace capri {

namespace {


/// Calls that pass through the scheduler on every call, whatever happens:
/// a loop whose latch one dominates needs no check. (A read that finds
/// data, or a sleep of 0, returns without passing it.)
bool alwaysPassesScheduler(const CallBase &CB) {
  const Function *F = CB.getCalledFunction();
  return F && StringSwitch<bool>(F->getName()).Case("capri_yield", true).Default(false);
}

/// Calls that may run for long: every call but intrinsics, which compile
/// to instructions or to a bounded libm routine (llvm.pow, llvm.fma without
/// the instruction), except the memory ones, whose length has no bound,
/// and a few families that are calls in disguise.
bool isRealCall(const Instruction &I) {
  const auto *CB = dyn_cast<CallBase>(&I);
  if (!CB)
    return false;
  if (const auto *II = dyn_cast<IntrinsicInst>(CB)) {
    // Those that wrap a call to anything (statepoints, patchpoints) or
    // become calls into a runtime (Objective-C's, coroutines') are calls.
    StringRef Name = II->getCalledFunction()->getName();
    return isa<AnyMemIntrinsic>(CB) || Name.starts_with("llvm.experimental.") ||
           Name.starts_with("llvm.objc.") || Name.starts_with("llvm.coro.");
  }
  return true;
}

class LoopYielder {
public:
  LoopYielder(Module &M, ModuleAnalysisManager &MAM, FunctionAnalysisManager &FAM)
      : M(M), MAM(MAM), FAM(FAM), Ctx(M.getContext()) {}

  bool run() {
    bool Changed = false;
    SmallPtrSet<const Function *, 8> OptedOut;
    forEachFunctionAnnotation(M, [&](const Function *F, StringRef Text) {
      if (Text.trim() == "capri.no_yield_points")
        OptedOut.insert(F);
    });
    for (Function &F : M) {
      if (F.isDeclaration() || F.hasFnAttribute("capri-thunk") ||
          F.hasFnAttribute(Attribute::Naked))
        continue;
      Changed |= runOn(F, OptedOut.contains(&F));
    }
    if (Function *NoYield = M.getFunction(NoYieldHere); NoYield && NoYield->use_empty() &&
                                                         NoYield->isDeclaration())
      NoYield->eraseFromParent();
    return Changed;
  }

private:
  Module &M;
  ModuleAnalysisManager &MAM;
  FunctionAnalysisManager &FAM;
  LLVMContext &Ctx;
  FunctionCallee Stub;
  /// The calls the checkpoint placement checks, computed when a loop with
  /// calls first needs them (before this pass changes the module).
  std::optional<DenseSet<const Instruction *>> CheckedCalls;

  const DenseSet<const Instruction *> &checkedCalls() {
    if (!CheckedCalls) {
      CheckedCalls.emplace();
      // Without instrumentation no check is ever inserted.
      if (Instrument)
        for (const Checkpoint &C : MAM.getResult<CapriCheckpointAnalysis>(M).Checkpoints)
          if (C.Reason != CheckpointReason::DynamicAlloca)
            CheckedCalls->insert(C.Site);
    }
    return *CheckedCalls;
  }

  /// The cold calls go to a local trampoline that jumps on to the runtime's
  /// __capri_loop_yield through the GOT: a direct call keeps the loop from
  /// holding the stub's address in a register, and the GOT is bound at
  /// load time (a lazy binding's resolver would run on the loop's stack,
  /// which promises no room, and it does not keep r10, which preserve_all
  /// callers rely on).
  FunctionCallee stub() {
    if (Stub)
      return Stub;
    FunctionType *Ty = FunctionType::get(Type::getVoidTy(Ctx), false);
    auto *Decl = cast<Function>(M.getOrInsertFunction(LoopYieldStub, Ty).getCallee());
    // Weak, as __morestack: without libcapri the limit word never holds
    // LIMIT_PREEMPT, and the call is never made.
    if (Decl->isDeclaration())
      Decl->setLinkage(GlobalValue::ExternalWeakLinkage);
    Decl->setCallingConv(CallingConv::PreserveAll);
    Decl->addFnAttr(Attribute::NoUnwind);
    Decl->addFnAttr(Attribute::NonLazyBind);

    Function *Local = M.getFunction(LoopYieldLocal);
    if (!Local) {
      Local = Function::Create(Ty, GlobalValue::InternalLinkage, LoopYieldLocal, M);
      Local->setCallingConv(CallingConv::PreserveAll);
      Local->addFnAttr(Attribute::NoUnwind);
      Local->addFnAttr(Attribute::NoInline);
      Local->addFnAttr(Attribute::Cold);
      Local->addFnAttr("capri-thunk"); // instrumentation, not the program
      IRBuilder<> B(BasicBlock::Create(Ctx, "", Local));
      CallInst *Jump = B.CreateCall(Decl);
      Jump->setCallingConv(CallingConv::PreserveAll);
      Jump->setTailCallKind(CallInst::TCK_MustTail);
      Jump->setDoesNotThrow();
      B.CreateRetVoid();
    }
    Stub = FunctionCallee(Ty, Local);
    return Stub;
  }

  /// Deletes F's capri_no_yield_here() calls; returns their blocks.
  SmallVector<BasicBlock *, 2> takeNoYieldHere(Function &F) {
    SmallVector<BasicBlock *, 2> Blocks;
    SmallVector<CallBase *, 2> Calls;
    for (Instruction &I : instructions(F))
      if (auto *CB = dyn_cast<CallBase>(&I))
        if (Function *Callee = CB->getCalledFunction();
            Callee && Callee->getName() == NoYieldHere && CB->use_empty() && isa<CallInst>(CB))
          Calls.push_back(CB);
    for (CallBase *CB : Calls) {
      Blocks.push_back(CB->getParent());
      CB->eraseFromParent();
      ++NumNoYieldHere;
    }
    return Blocks;
  }

  bool runOn(Function &F, bool FunctionOptedOut) {
    SmallVector<BasicBlock *, 2> NoYieldBlocks = takeNoYieldHere(F);
    bool Changed = !NoYieldBlocks.empty();
    SmallVector<std::pair<const BasicBlock *, const BasicBlock *>, 8> BackEdges;
    FindFunctionBackedges(F, BackEdges);
    if (BackEdges.empty())
      return Changed;
    auto &ORE = FAM.getResult<OptimizationRemarkEmitterAnalysis>(F);
    // A remark about a natural loop points at the loop's own start (its
    // `for` or `while`), not at whatever its header's branch came from.
    LoopInfo *Loops = nullptr;
    auto LocOf = [&](const BasicBlock *BB) {
      if (Loops)
        if (const Loop *L = Loops->getLoopFor(BB); L && L->getHeader() == BB)
          if (DebugLoc Start = L->getStartLoc())
            return Start;
      return BB->getTerminator()->getDebugLoc();
    };
    auto Remark = [&](bool Placed, StringRef Name, const BasicBlock *BB, const Twine &Why) {
      DebugLoc At = LocOf(BB);
      if (Placed)
        ORE.emit([&] {
          return OptimizationRemark(DEBUG_TYPE, Name, At, BB) << Why.str();
        });
      else
        ORE.emit([&] {
          return OptimizationRemarkMissed(DEBUG_TYPE, Name, At, BB) << Why.str();
        });
    };
    if (FunctionOptedOut || !LoopYieldPoints) {
      for (auto &E : BackEdges) {
        if (FunctionOptedOut) {
          ++NumExemptFunction;
          Remark(false, "NoYieldPointsFunction", E.first,
                 "no loop yield point: " + F.getName() + " is annotated capri.no_yield_points");
        }
      }
      return Changed;
    }

    auto &DT = FAM.getResult<DominatorTreeAnalysis>(F);
    auto &LI = FAM.getResult<LoopAnalysis>(F);
    Loops = &LI;
    auto &SE = FAM.getResult<ScalarEvolutionAnalysis>(F);

    // Loops opted out by capri_no_yield_here(): the innermost loop holding
    // the call, and the loops nested in it.
    SmallPtrSet<const Loop *, 4> QuietLoops;
    for (BasicBlock *BB : NoYieldBlocks)
      if (const Loop *L = LI.getLoopFor(BB))
        QuietLoops.insert(L);
    auto Quiet = [&](const Loop *L) {
      for (; L; L = L->getParentLoop())
        if (QuietLoops.contains(L))
          return true;
      return false;
    };

    // Decide first: the checks split blocks. A natural loop gets one check
    // at its header, after the phis: it runs once per iteration whichever
    // latch was taken, and keeps a rotated loop one block with a single
    // back branch (two instructions per iteration, where a check on the
    // edge would add a jump too). Irreducible cycles get theirs on the edge.
    SmallVector<BasicBlock *, 8> Headers;
    SmallVector<LoopChunkPlan, 4> Chunked;
    SmallVector<std::pair<BasicBlock *, BasicBlock *>, 4> Edges;
    SmallPtrSet<const Loop *, 8> Decided;
    for (auto &E : BackEdges) {
      auto *From = const_cast<BasicBlock *>(E.first);
      auto *To = const_cast<BasicBlock *>(E.second);
      const Loop *L = LI.getLoopFor(To);
      if (L && (L->getHeader() != To || !L->contains(From)))
        L = nullptr;
      if (!L) {
        Edges.push_back({From, To});
        continue;
      }
      if (!Decided.insert(L).second)
        continue;
      if (Quiet(L)) {
        ++NumExemptLoop;
        Remark(false, "NoYieldHere", To, "no loop yield point: the loop calls capri_no_yield_here()");
        continue;
      }
      if (!callsOnEveryIteration(*L, DT, alwaysPassesScheduler).empty()) {
        ++NumExemptYield;
        Remark(false, "LoopYields", To,
               "no loop yield point: a call through the scheduler runs on every iteration");
        continue;
      }
      bool CallFree = callFree(*L);
      if (!CallFree) {
        // A checkpoint compares with the same limit word, so its slow path
        // takes the preemption: one that runs on every iteration is the
        // loop's yield point. The mark keeps it a checkpoint when the
        // placement is computed again after this pass.
        const auto &Checked = checkedCalls();
        auto Polls = callsOnEveryIteration(
            *L, DT, [&](const CallBase &CB) { return Checked.contains(&CB); });
        if (!Polls.empty()) {
          for (CallBase *Poll : Polls)
            Poll->setMetadata(ForcedCheckpointMD, MDNode::get(Ctx, {}));
          ++NumExemptCheckpoint;
          Remark(false, "CheckpointPolls", To,
                 "no loop yield point: the checkpoint on a call that runs on every "
                 "iteration checks for preemption");
          continue;
        }
        Remark(false, "NotChunked", To, "check on every iteration: the loop makes calls");
        Headers.push_back(To);
        continue;
      }
      // A whole run of the nest within one chunk's work needs no check
      // (an enclosing loop that runs it many times has its own).
      unsigned MaxTrip = SE.getSmallConstantMaxTripCount(L);
      uint64_t Work = boundedWork(*L, SE);
      if (MaxTrip != 0 && ((L->isInnermost() && MaxTrip < LoopMinTrip) ||
                           (Work != 0 && Work <= LoopChunkWork))) {
        ++NumExemptShort;
        if (L->isInnermost())
          Remark(false, "ShortLoop", To,
                 "no loop yield point: at most " + Twine(MaxTrip) + " iterations and no calls");
        else
          Remark(false, "ShortLoop", To,
                 "no loop yield point: at most " + Twine(Work) +
                     " instructions per run of the nest and no calls");
        continue;
      }
      StringRef Why;
      LoopChunkPlan Plan = planLoopChunks(*const_cast<Loop *>(L), SE, LoopChunkWork, Why);
      if (Plan.L) {
        Chunked.push_back(Plan);
        continue;
      }
      Remark(false, "NotChunked", To, "check on every iteration: " + Why);
      Headers.push_back(To);
    }
    auto Placed = [&](bool Ok, BasicBlock *At) {
      if (Ok) {
        ++NumLoopChecks;
        Changed = true;
        Remark(true, "LoopYieldPoint", At, "loop yield point");
      } else {
        ++NumUnsplittable;
        Remark(false, "Unsplittable", At,
               "no loop yield point: the cycle cannot be split (indirectbr, callbr or an "
               "exception pad)");
      }
    };
    // A chunked loop's rewrite moves its exit edge and may split its entry
    // edge: an irreducible cycle's check planned on one of those edges
    // would then name an edge that is gone. Such loops keep the check on
    // every iteration (rare: goto into or out of a counted loop).
    llvm::erase_if(Chunked, [&](const LoopChunkPlan &P) {
      bool Touches = llvm::any_of(Edges, [&](const std::pair<BasicBlock *, BasicBlock *> &E) {
        return E.first == P.Latch || E.first == P.Preheader || E.second == P.Header ||
               E.second == P.Exit;
      });
      if (Touches) {
        Remark(false, "NotChunked", P.Header,
               "check on every iteration: an irreducible cycle enters or leaves the loop");
        Headers.push_back(P.Header);
      }
      return Touches;
    });
    // The order matters. First the chunked loops' expansions, which read
    // scalar evolution and keep the dominator tree and loop info current.
    // Then the checks on irreducible back edges, while the blocks those
    // edges leave still end in the terminators that were planned on (a
    // header check moves a block's terminator into its split-off body).
    // Then the chunk rewrites, and last the header checks.
    llvm::erase_if(Chunked, [&](LoopChunkPlan &P) {
      if (expandChunkValues(P, SE, DT, LI))
        return false;
      Headers.push_back(P.Header);
      return true;
    });
    for (auto &E : Edges)
      Placed(insertOnEdge(E.first, E.second), E.first);
    for (LoopChunkPlan &P : Chunked) {
      BasicBlock *Header = P.Header;
      DebugLoc Loc = LocOf(Header);
      uint64_t K = P.K;
      BasicBlock *At = stripMine(P);
      emitCheck(At, Header);
      ++NumChunked;
      ++NumLoopChecks;
      Changed = true;
      ORE.emit([&] {
        return OptimizationRemark(DEBUG_TYPE, "ChunkedLoopYieldPoint", Loc, Header)
               << "loop yield point once every " << ore::NV("Iterations", K) << " iterations";
      });
    }
    for (BasicBlock *H : Headers)
      Placed(insertAtHeader(H), H);
    return Changed;
  }

  /// For every latch of L, a call that runs whenever the latch is reached
  /// (in a block of L that dominates it) and satisfies Pred: one per
  /// latch, perhaps the same one. Empty when some latch has none.
  template <typename PredT>
  static SmallVector<CallBase *, 2> callsOnEveryIteration(const Loop &L, const DominatorTree &DT,
                                                          PredT Pred) {
    SmallVector<BasicBlock *, 4> Latches;
    L.getLoopLatches(Latches);
    SmallVector<CallBase *, 2> Calls;
    for (BasicBlock *Latch : Latches) {
      CallBase *Found = nullptr;
      for (BasicBlock *BB : L.blocks()) {
        if (!DT.dominates(BB, Latch))
          continue;
        for (Instruction &I : *BB)
          if (auto *CB = dyn_cast<CallBase>(&I); CB && Pred(*CB)) {
            Found = CB;
            break;
          }
        if (Found)
          break;
      }
      if (!Found)
        return {};
      Calls.push_back(Found);
    }
    return Calls;
  }

  static bool callFree(const Loop &L) {
    for (const BasicBlock *BB : L.blocks())
      for (const Instruction &I : *BB)
        if (isRealCall(I))
          return false;
    return true;
  }

  /// Puts the check at the top of loop header H, after its phis.
  bool insertAtHeader(BasicBlock *H) {
    if (H->isEHPad() || H->getFirstInsertionPt() == H->end())
      return false;
    BasicBlock *Rest = H->splitBasicBlock(H->getFirstInsertionPt(), H->getName() + ".capri.body");
    emitCheck(H, Rest);
    return true;
  }

  /// Puts the check on the edge From -> To: in From when To is its only
  /// successor, else in a block of its own on the edge. False when the
  /// edge cannot be split.
  bool insertOnEdge(BasicBlock *From, BasicBlock *To) {
    Instruction *Term = From->getTerminator();
    if (To->isEHPad() || isa<IndirectBrInst>(Term) || isa<CallBrInst>(Term))
      return false;
    BasicBlock *At = From;
    if (Term->getNumSuccessors() != 1) {
      if (isCriticalEdge(Term, To)) {
        unsigned Index = 0;
        while (Term->getSuccessor(Index) != To)
          ++Index;
        At = SplitCriticalEdge(Term, Index, CriticalEdgeSplittingOptions().setMergeIdenticalEdges());
        if (!At)
          return false;
      } else {
        // To's only predecessor is From: check on entry to To.
        if (To->getFirstInsertionPt() == To->end())
          return false;
        BasicBlock *Rest = To->splitBasicBlock(To->getFirstInsertionPt(), To->getName() + ".capri.loop");
        At = To;
        To = Rest;
      }
    }
    emitCheck(At, To);
    return true;
  }

  /// At ends in `br To`: replaces it with the check, whose cold block
  /// calls the stub and goes on to To.
  void emitCheck(BasicBlock *At, BasicBlock *To) {
    Instruction *Br = At->getTerminator();
    assert(Br->getNumSuccessors() == 1 && Br->getSuccessor(0) == To);
    Function &F = *At->getParent();
    BasicBlock *Cold = BasicBlock::Create(Ctx, At->getName() + ".capri.yield", &F, To);

    IRBuilder<> B(Br);
    B.SetCurrentDebugLocation(Br->getDebugLoc());
    // A volatile load: a plain one would be hoisted out of the loop.
    Value *Addr = ConstantExpr::getIntToPtr(ConstantInt::get(Type::getInt64Ty(Ctx), PreemptByte),
                                            PointerType::get(Ctx, FSAddressSpace));
    LoadInst *Byte = B.CreateLoad(Type::getInt8Ty(Ctx), Addr, /*isVolatile=*/true, "capri.preempt");
    Byte->setAlignment(Align(1));
    Value *Bit = B.CreateAnd(Byte, ConstantInt::get(Type::getInt8Ty(Ctx), PreemptMask));
    Value *Asked = B.CreateICmpNE(Bit, ConstantInt::get(Type::getInt8Ty(Ctx), 0), "capri.asked");
    MDNode *Weights = MDBuilder(Ctx).createUnlikelyBranchWeights();
    B.CreateCondBr(Asked, Cold, To, Weights);
    Br->eraseFromParent();

    IRBuilder<> C(Cold);
    C.SetCurrentDebugLocation(B.getCurrentDebugLocation());
    CallInst *Call = C.CreateCall(stub());
    Call->setCallingConv(CallingConv::PreserveAll);
    Call->setDoesNotThrow();
    C.CreateBr(To);
    // The new predecessor of To carries At's values.
    for (PHINode &Phi : To->phis())
      Phi.addIncoming(Phi.getIncomingValueForBlock(At), Cold);
  }
};

} // namespace

PreservedAnalyses CapriLoopYieldPass::run(Module &M, ModuleAnalysisManager &MAM) {
  if (!analysesModule(M, AtLTOLink))
    return PreservedAnalyses::all();
  auto &FAM = MAM.getResult<FunctionAnalysisManagerModuleProxy>(M).getManager();
  if (!LoopYielder(M, MAM, FAM).run())
    return PreservedAnalyses::all();
  return PreservedAnalyses::none();
}

} // namespace capri
