//===-- LoopChunking.cpp - one preemption check per chunk of a counted loop ===//
#include "LoopChunking.h"

#include "llvm/Analysis/LoopInfo.h"
#include "llvm/Analysis/ScalarEvolution.h"
#include "llvm/Analysis/ScalarEvolutionExpressions.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/IntrinsicInst.h"
#include "llvm/IR/MDBuilder.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/Dominators.h"
#include "llvm/Transforms/Utils/BasicBlockUtils.h"
#include "llvm/Transforms/Utils/LoopUtils.h"
#include "llvm/Transforms/Utils/ScalarEvolutionExpander.h"

#include <algorithm>
#include <climits>

using namespace llvm;

namespace capri {

/// Whether an instruction counts towards a loop's size: code generation
/// keeps it (phis, debug records and lifetime markers it does not).
static bool countsAsWork(const Instruction &I) {
  if (isa<PHINode>(I) || isa<DbgInfoIntrinsic>(I))
    return false;
  const auto *II = dyn_cast<IntrinsicInst>(&I);
  return !II || !II->isLifetimeStartOrEnd();
}

static uint64_t blockWork(const BasicBlock &BB) {
  return static_cast<uint64_t>(llvm::count_if(BB, countsAsWork));
}

unsigned loopSize(const Loop &L) {
  uint64_t N = 0;
  for (const BasicBlock *BB : L.blocks())
    N += blockWork(*BB);
  return static_cast<unsigned>(std::clamp<uint64_t>(N, 1, UINT_MAX));
}

uint64_t boundedWork(const Loop &L, ScalarEvolution &SE) {
  unsigned Trip = SE.getSmallConstantMaxTripCount(&L);
  if (!Trip)
    return 0;
  // The loop's own blocks, then each inner loop's whole run.
  uint64_t Body = 0;
  for (const BasicBlock *BB : L.blocks())
    if (llvm::none_of(L.getSubLoops(), [&](const Loop *Sub) { return Sub->contains(BB); }))
      Body += blockWork(*BB);
  for (const Loop *Sub : L.getSubLoops()) {
    uint64_t W = boundedWork(*Sub, SE);
    if (!W)
      return 0;
    Body = W > UINT64_MAX - Body ? UINT64_MAX : Body + W;
  }
  Body = std::max<uint64_t>(Body, 1);
  return Body > UINT64_MAX / Trip ? UINT64_MAX : Body * Trip;
}

uint64_t chunkIterations(unsigned Size, unsigned ChunkWork) {
  return std::max<uint64_t>(ChunkWork / std::max(Size, 1u), 2);
}

LoopChunkPlan planLoopChunks(Loop &L, ScalarEvolution &SE, unsigned ChunkWork, StringRef &Why) {
  LoopChunkPlan P;
  auto Refuse = [&](StringRef Reason) {
    Why = Reason;
    return LoopChunkPlan();
  };
  if (!L.isInnermost())
    return Refuse("the loop holds another loop");
  // The block the loop is entered from; expandChunkValues gives the loop
  // a preheader of its own if it has none.
  P.Preheader = L.getLoopPredecessor();
  P.Header = L.getHeader();
  P.Latch = L.getLoopLatch();
  P.Exit = L.getExitBlock();
  if (!P.Preheader || !P.Latch || !P.Exit || L.getExitingBlock() != P.Latch)
    return Refuse("the loop is not a single-latch loop that exits at its latch");
  if (isa<IndirectBrInst>(P.Preheader->getTerminator()) ||
      isa<CallBrInst>(P.Preheader->getTerminator()))
    return Refuse("the loop is entered by an indirect branch");
  if (P.Exit->isEHPad() || P.Header->isEHPad())
    return Refuse("an exception pad");
  P.LatchBr = dyn_cast<BranchInst>(P.Latch->getTerminator());
  if (!P.LatchBr || !P.LatchBr->isConditional())
    return Refuse("the latch does not end in a conditional branch");
  P.Compare = dyn_cast<ICmpInst>(P.LatchBr->getCondition());
  if (!P.Compare)
    return Refuse("the exit condition is not an integer compare");
  unsigned ExitSucc = P.LatchBr->getSuccessor(0) == P.Exit ? 0 : 1;
  if (P.LatchBr->getSuccessor(1 - ExitSucc) != P.Header)
    return Refuse("the latch does not branch back to the header");
  // Exit iff X == Bound: the last chunk can end at Bound itself.
  bool ExitOnEqual = P.Compare->isEquality() &&
                     (ExitSucc == 0) == (P.Compare->getPredicate() == ICmpInst::ICMP_EQ);

  for (unsigned Op = 0; Op < 2 && !P.X; ++Op) {
    Value *A = P.Compare->getOperand(Op), *B = P.Compare->getOperand(1 - Op);
    if (!(A->getType()->isIntegerTy() || A->getType()->isPointerTy()) ||
        !SE.isSCEVable(A->getType()))
      continue;
    const auto *AR = dyn_cast<SCEVAddRecExpr>(SE.getSCEV(A));
    if (!AR || AR->getLoop() != &L || !AR->isAffine())
      continue;
    const auto *Step = dyn_cast<SCEVConstant>(AR->getStepRecurrence(SE));
    if (!Step || Step->getAPInt().isZero() || !SE.isLoopInvariant(SE.getSCEV(B), &L))
      continue;
    // The value itself is used before the loop and in the chunk exit: it
    // must be defined outside (scalar evolution also calls a value
    // computed in the loop from invariants invariant).
    if (auto *I = dyn_cast<Instruction>(B); I && L.contains(I))
      continue;
    // Otherwise the last chunk ends at X's value on the last iteration,
    // which X takes on no earlier one only if it never wraps round.
    if (!ExitOnEqual && !AR->hasNoSelfWrap())
      continue;
    P.X = A;
    P.Bound = ExitOnEqual ? B : nullptr;
    P.AddRec = AR;
    P.Start = AR->getStart();
    P.Step = Step->getAPInt();
  }
  if (!P.X)
    return Refuse("the exit compare is not an induction that never wraps against a "
                  "loop-invariant bound");
  // A Bound defined outside the loop dominates the preheader (it
  // dominates the latch).

  P.BackedgeCount = SE.getExitCount(&L, P.Latch);
  if (isa<SCEVCouldNotCompute>(P.BackedgeCount) || !P.BackedgeCount->getType()->isIntegerTy())
    return Refuse("scalar evolution cannot count the iterations");

  P.K = chunkIterations(loopSize(L), ChunkWork);
  // Within a chunk X must not come back to the chunk's end before K
  // iterations: |Step| * K below half the value's range.
  unsigned Bits = P.Step.getBitWidth();
  uint64_t AbsStep = P.Step.abs().getLimitedValue();
  if (Bits < 8 || AbsStep == 0 || AbsStep >= (uint64_t(1) << std::min(Bits - 1, 62u)) / P.K)
    return Refuse("the induction's step times the chunk overflows its type");
  if (P.BackedgeCount->getType()->getIntegerBitWidth() < 64 &&
      P.K >= (uint64_t(1) << (P.BackedgeCount->getType()->getIntegerBitWidth() - 1)))
    return Refuse("the chunk does not fit the back-edge count's type");

  if (!P.Bound) {
    const SCEV *Count =
        SE.getTruncateOrZeroExtend(P.BackedgeCount, SE.getEffectiveSCEVType(P.X->getType()));
    P.Final = P.AddRec->evaluateAtIteration(Count, SE);
  }
  Instruction *At = P.Preheader->getTerminator();
  SCEVExpander Expander(SE, L.getHeader()->getModule()->getDataLayout(), "capri.chunk");
  if (!Expander.isSafeToExpandAt(P.BackedgeCount, At) || !Expander.isSafeToExpandAt(P.Start, At) ||
      (P.Final && !Expander.isSafeToExpandAt(P.Final, At)))
    return Refuse("the iteration count cannot be computed before the loop");
  P.L = &L;
  return P;
}

bool expandChunkValues(LoopChunkPlan &P, ScalarEvolution &SE, DominatorTree &DT, LoopInfo &LI) {
  // A preheader of its own: the entering block may branch elsewhere too
  // (by more than one edge, even), or be another loop's latch (which that
  // loop's rewrite changes).
  if (P.L->getLoopPreheader() != P.Preheader ||
      LI.getLoopFor(P.Preheader) != P.L->getParentLoop()) {
    BasicBlock *New = InsertPreheaderForLoop(P.L, &DT, &LI, nullptr, /*PreserveLCSSA=*/false);
    if (!New)
      return false;
    P.Preheader = New;
  }
  SCEVExpander Expander(SE, P.Header->getModule()->getDataLayout(), "capri.chunk");
  Instruction *At = P.Preheader->getTerminator();
  P.BackedgeValue = Expander.expandCodeFor(P.BackedgeCount, P.BackedgeCount->getType(), At);
  P.StartValue = Expander.expandCodeFor(P.Start, P.X->getType(), At);
  P.FinalValue = P.Bound ? P.Bound : Expander.expandCodeFor(P.Final, P.X->getType(), At);
  return true;
}

BasicBlock *stripMine(LoopChunkPlan &P) {
  // Another loop's preheader split may have moved the exit edge's target.
  P.Exit = P.LatchBr->getSuccessor(P.LatchBr->getSuccessor(0) == P.Header ? 1 : 0);
  LLVMContext &Ctx = P.Header->getContext();
  Function &F = *P.Header->getParent();
  Type *XTy = P.X->getType();
  Type *CountTy = P.BackedgeValue->getType();
  Constant *K = ConstantInt::get(CountTy, P.K);
  APInt StepK = P.Step * APInt(P.Step.getBitWidth(), P.K);
  APInt StepKMinus1 = P.Step * APInt(P.Step.getBitWidth(), P.K - 1);
  DebugLoc Loc = P.LatchBr->getDebugLoc();

  // The first chunk: K iterations when at least K back edges are left,
  // else all of them.
  IRBuilder<> Pre(P.Preheader->getTerminator());
  Pre.SetCurrentDebugLocation(Loc);
  Value *Long = Pre.CreateICmpUGE(P.BackedgeValue, K, "capri.chunk.long");
  // X + n * Step, for an integer or a pointer X.
  auto Advance = [&](IRBuilder<> &B, Value *From, const APInt &By, const Twine &Name) -> Value * {
    if (XTy->isPointerTy())
      return B.CreatePtrAdd(From, ConstantInt::get(Ctx, By), Name);
    return B.CreateAdd(From, ConstantInt::get(XTy, By), Name);
  };
  Value *FirstEnd = Advance(Pre, P.StartValue, StepKMinus1, "capri.chunk.first");
  Value *End0 = Pre.CreateSelect(Long, FirstEnd, P.FinalValue, "capri.chunk.end0");

  // Header phis: the chunk's end, and the back edges left when it began.
  IRBuilder<> Head(P.Header, P.Header->getFirstNonPHIIt());
  PHINode *End = Head.CreatePHI(XTy, 3, "capri.chunk.end");
  PHINode *Left = Head.CreatePHI(CountTy, 3, "capri.chunk.left");
  // Keep them first among the phis (CreatePHI inserts after the others).
  End->addIncoming(End0, P.Preheader);
  Left->addIncoming(P.BackedgeValue, P.Preheader);
  End->addIncoming(End, P.Latch);
  Left->addIncoming(Left, P.Latch);

  // The latch leaves for the chunk exit when X reaches the chunk's end.
  BasicBlock *ChunkExit = BasicBlock::Create(Ctx, P.Header->getName() + ".capri.chunk", &F, P.Exit);
  BasicBlock *Next = BasicBlock::Create(Ctx, P.Header->getName() + ".capri.next", &F, P.Exit);
  IRBuilder<> Latch(P.LatchBr);
  Latch.SetCurrentDebugLocation(Loc);
  Value *AtEnd = Latch.CreateICmpEQ(P.X, End, "capri.chunk.done");
  BranchInst *NewBr = Latch.CreateCondBr(AtEnd, ChunkExit, P.Header,
                                         MDBuilder(Ctx).createBranchWeights(1, uint32_t(std::min<uint64_t>(P.K - 1, UINT32_MAX))));
  if (MDNode *LoopMD = P.LatchBr->getMetadata(LLVMContext::MD_loop))
    NewBr->setMetadata(LLVMContext::MD_loop, LoopMD);
  P.LatchBr->eraseFromParent();
  if (P.Compare->use_empty())
    P.Compare->eraseFromParent();

  // The chunk exit: the loop is done when this was the last chunk.
  IRBuilder<> CE(ChunkExit);
  CE.SetCurrentDebugLocation(Loc);
  Value *Last = CE.CreateICmpULT(Left, K, "capri.chunk.last");
  CE.CreateCondBr(Last, P.Exit, Next);
  for (PHINode &Phi : P.Exit->phis())
    Phi.replaceIncomingBlockWith(P.Latch, ChunkExit);

  // Another chunk.
  IRBuilder<> N(Next);
  N.SetCurrentDebugLocation(Loc);
  Value *Left2 = N.CreateSub(Left, K, "capri.chunk.left.next");
  Value *Long2 = N.CreateICmpUGE(Left2, K, "capri.chunk.long.next");
  Value *NextEnd = Advance(N, P.X, StepK, "capri.chunk.far");
  Value *End2 = N.CreateSelect(Long2, NextEnd, P.FinalValue, "capri.chunk.end.next");
  N.CreateBr(P.Header);
  for (PHINode &Phi : P.Header->phis()) {
    if (&Phi == End)
      Phi.addIncoming(End2, Next);
    else if (&Phi == Left)
      Phi.addIncoming(Left2, Next);
    else
      Phi.addIncoming(Phi.getIncomingValueForBlock(P.Latch), Next);
  }
  return Next;
}

} // namespace capri
