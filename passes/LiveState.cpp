//===-- LiveState.cpp - what a thread blocked at a yield site holds -------===//
#include "LiveState.h"
#include "FrameBound.h"

#include "llvm/ADT/BitVector.h"
#include "llvm/ADT/PostOrderIterator.h"
#include "llvm/Analysis/StackLifetime.h"
#include "llvm/IR/CFG.h"
#include "llvm/IR/DebugInfo.h"
#include "llvm/IR/DebugInfoMetadata.h"
#include "llvm/IR/Function.h"
#include "llvm/IR/InstIterator.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/IntrinsicInst.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/Format.h"

#include <algorithm>
#include <optional>

using namespace llvm;

namespace capri {

std::string formatBytes(uint64_t Bytes) {
  std::string S;
  raw_string_ostream OS(S);
  if (Bytes < 1024)
    OS << Bytes << " B";
  else if (Bytes % 1024 == 0 && Bytes < 1024 * 1024)
    OS << Bytes / 1024 << " KiB";
  else if (Bytes < 1024 * 1024)
    OS << format("%.1f", double(Bytes) / 1024) << " KiB";
  else
    OS << format("%.1f", double(Bytes) / (1024 * 1024)) << " MiB";
  return OS.str();
}

std::string SiteLiveState::deadList(unsigned Max) const {
  std::string S;
  raw_string_ostream OS(S);
  unsigned N = 0;
  for (const StackObject &O : DeadObjects) {
    if (N++ == Max)
      break;
    if (N > 1)
      OS << ';';
    OS << O.Name << '=' << O.Size;
  }
  return OS.str();
}

namespace {

std::string objectName(const AllocaInst &AI) {
  for (const DbgDeclareInst *D : findDbgDeclares(const_cast<AllocaInst *>(&AI)))
    if (const DILocalVariable *V = D->getVariable(); V && !V->getName().empty())
      return V->getName().str();
  for (const DbgVariableRecord *D : findDVRDeclares(const_cast<AllocaInst *>(&AI)))
    if (const DILocalVariable *V = D->getVariable(); V && !V->getName().empty())
      return V->getName().str();
  // With assignment tracking (clang's default at -O1 and above) the
  // variable is named by the alloca's assignment markers.
  for (const DbgAssignIntrinsic *D : at::getAssignmentMarkers(&AI))
    if (const DILocalVariable *V = D->getVariable(); V && !V->getName().empty())
      return V->getName().str();
  for (const DbgVariableRecord *D : at::getDVRAssignmentMarkers(&AI))
    if (const DILocalVariable *V = D->getVariable(); V && !V->getName().empty())
      return V->getName().str();
  if (AI.hasName())
    return AI.getName().str();
  return "<unnamed>";
}

/// Values that never occupy a register across a call: constants, stack
/// objects and constant offsets from them (the code generator
/// rematerialises those from the frame pointer or stack pointer).
bool isFrameAddress(const Value *V) {
  for (unsigned Depth = 0; Depth < 8; ++Depth) {
    if (isa<AllocaInst>(V))
      return cast<AllocaInst>(V)->isStaticAlloca();
    if (auto *GEP = dyn_cast<GetElementPtrInst>(V)) {
      if (!GEP->hasAllConstantIndices())
        return false;
      V = GEP->getPointerOperand();
      continue;
    }
    if (auto *C = dyn_cast<CastInst>(V); C && C->isNoopCast(C->getModule()->getDataLayout())) {
      V = C->getOperand(0);
      continue;
    }
    return false;
  }
  return false;
}

/// SSA liveness over the function's blocks: which values are live out of
/// each block (a phi's operand is live out of its incoming block only).
class ValueLiveness {
public:
  explicit ValueLiveness(const Function &F) : F(F), DL(F.getParent()->getDataLayout()) {
    for (const Argument &A : F.args())
      number(&A);
    for (const BasicBlock &BB : F)
      for (const Instruction &I : BB)
        number(&I);
    compute();
  }

  /// Bytes of the values live just after CB, CB's own result excluded.
  uint64_t liveAcross(const CallBase &CB) const {
    const BasicBlock *BB = CB.getParent();
    auto It = LiveOut.find(BB);
    if (It == LiveOut.end())
      return 0;
    BitVector Live = It->second;
    for (const Instruction *I = BB->getTerminator(); I && I != &CB; I = I->getPrevNode()) {
      if (int N = index(I); N >= 0)
        Live.reset(N);
      for (const Value *Op : I->operands())
        if (int N = index(Op); N >= 0)
          Live.set(N);
    }
    if (int N = index(&CB); N >= 0)
      Live.reset(N);
    uint64_t Bytes = 0;
    for (int N = Live.find_first(); N >= 0; N = Live.find_next(N))
      Bytes += DL.getTypeStoreSize(Values[N]->getType()).getKnownMinValue();
    return Bytes;
  }

private:
  const Function &F;
  const DataLayout &DL;
  std::vector<const Value *> Values;
  DenseMap<const Value *, int> Index;
  DenseMap<const BasicBlock *, BitVector> LiveOut;

  void number(const Value *V) {
    Type *T = V->getType();
    if (T->isVoidTy() || T->isTokenTy() || T->isMetadataTy() || T->isLabelTy() ||
        !T->isSized() || isFrameAddress(V))
      return;
    Index[V] = static_cast<int>(Values.size());
    Values.push_back(V);
  }
  int index(const Value *V) const {
    auto It = Index.find(V);
    return It == Index.end() ? -1 : It->second;
  }

  void compute() {
    const unsigned N = Values.size();
    DenseMap<const BasicBlock *, BitVector> Uses, Defs, LiveIn;
    for (const BasicBlock &BB : F) {
      BitVector U(N), D(N);
      for (const Instruction &I : BB) {
        if (!isa<PHINode>(I))
          for (const Value *Op : I.operands())
            if (int K = index(Op); K >= 0 && !D.test(K))
              U.set(K);
        if (int K = index(&I); K >= 0)
          D.set(K);
      }
      Uses[&BB] = std::move(U);
      Defs[&BB] = std::move(D);
      LiveIn[&BB] = BitVector(N);
      LiveOut[&BB] = BitVector(N);
    }
    // Backward dataflow to a fixpoint, blocks in post order.
    std::vector<const BasicBlock *> Order;
    for (const BasicBlock *BB : post_order(&F.getEntryBlock()))
      Order.push_back(BB);
    bool Changed = true;
    while (Changed) {
      Changed = false;
      for (const BasicBlock *BB : Order) {
        BitVector Out(N);
        for (const BasicBlock *S : successors(BB)) {
          BitVector In = LiveIn[S];
          for (const PHINode &P : S->phis()) {
            if (int K = index(&P); K >= 0)
              In.reset(K);
            for (unsigned I = 0, E = P.getNumIncomingValues(); I != E; ++I)
              if (P.getIncomingBlock(I) == BB)
                if (int K = index(P.getIncomingValue(I)); K >= 0)
                  In.set(K);
          }
          Out |= In;
        }
        BitVector In = Out;
        In.reset(Defs[BB]);
        In |= Uses[BB];
        if (Out != LiveOut[BB] || In != LiveIn[BB]) {
          LiveOut[BB] = std::move(Out);
          LiveIn[BB] = std::move(In);
          Changed = true;
        }
      }
    }
  }
};

} // namespace

FunctionLiveState computeLiveState(const Function &F, ArrayRef<const CallBase *> Calls,
                                   const FrameBound &FB) {
  FunctionLiveState Out;
  if (F.isDeclaration() || Calls.empty())
    return Out;
  const DataLayout &DL = F.getParent()->getDataLayout();

  std::vector<const AllocaInst *> Allocas;
  std::vector<StackObject> Objects;
  for (const Instruction &I : F.getEntryBlock())
    if (auto *AI = dyn_cast<AllocaInst>(&I); AI && AI->isStaticAlloca())
      if (auto Size = AI->getAllocationSize(DL); Size && !Size->isScalable()) {
        Allocas.push_back(AI);
        Objects.push_back({AI, objectName(*AI), Size->getFixedValue(),
                           static_cast<unsigned>(Objects.size())});
      }
  bool AnyMarker = false;
  for (const Instruction &I : instructions(F))
    if (auto *II = dyn_cast<IntrinsicInst>(&I); II && II->isLifetimeStartOrEnd())
      AnyMarker = true;

  StackLifetime SL(F, Allocas, StackLifetime::LivenessType::May);
  SL.run();

  // Colour: largest first, each object into the first slot none of whose
  // objects it overlaps (the backend's StackColoring is at least as good).
  std::vector<unsigned> BySize(Allocas.size());
  for (unsigned I = 0; I < BySize.size(); ++I)
    BySize[I] = I;
  llvm::sort(BySize, [&](unsigned A, unsigned B) {
    return Objects[A].Size != Objects[B].Size ? Objects[A].Size > Objects[B].Size : A < B;
  });
  struct Slot {
    uint64_t Size = 0;
    uint64_t Align = 1;
    StackLifetime::LiveRange Range;
  };
  std::vector<Slot> Slots;
  for (unsigned I : BySize) {
    const AllocaInst *AI = Allocas[I];
    const StackLifetime::LiveRange &R = SL.getLiveRange(AI);
    Out.Objects += Objects[I].Size;
    Slot *Into = nullptr;
    for (Slot &S : Slots)
      if (!S.Range.overlaps(R)) {
        Into = &S;
        break;
      }
    if (!Into) {
      Slots.push_back({0, 1, SL.getFullLiveRange()});
      Into = &Slots.back();
      Into->Range = R;
    } else {
      Into->Range.join(R);
    }
    Into->Size = std::max(Into->Size, Objects[I].Size);
    Into->Align = std::max<uint64_t>(Into->Align, AI->getAlign().value());
  }
  for (const Slot &S : Slots)
    Out.ColouredObjects += alignTo(S.Size, S.Align);
  // The estimate counts objects with their alignment (and sanitizer
  // redzones); the colouring can only take away from that.
  uint64_t Fixed = FB.Total > FB.Allocas ? FB.Total - FB.Allocas : 0;
  uint64_t Frame = Fixed + std::min(Out.ColouredObjects, FB.Allocas ? FB.Allocas
                                                                    : Out.ColouredObjects);

  // SSA liveness keeps a bit per value and block: skip it (values count as
  // nothing, and the sites say so) in functions where that would be more
  // than 64 Mbit, such as a huge interpreter loop.
  uint64_t Blocks = F.size(), ValueCount = F.arg_size() + F.getInstructionCount();
  std::optional<ValueLiveness> Values;
  if (Blocks * ValueCount <= (uint64_t(1) << 26))
    Values.emplace(F);
  for (const CallBase *CB : Calls) {
    SiteLiveState S;
    S.Frame = Frame;
    S.NoLifetimes = !AnyMarker && !Allocas.empty();
    S.Unreachable = !SL.isReachable(CB);
    for (unsigned I = 0; I < Allocas.size(); ++I) {
      bool Live = S.Unreachable || SL.isAliveAfter(Allocas[I], CB);
      if (Live) {
        S.LiveObjects += Objects[I].Size;
        S.LiveObjectList.push_back(Objects[I]);
      } else {
        S.Dead += Objects[I].Size;
        S.DeadObjects.push_back(Objects[I]);
      }
    }
    auto Larger = [](const StackObject &A, const StackObject &B) {
      return A.Size != B.Size ? A.Size > B.Size : A.Index < B.Index;
    };
    llvm::sort(S.DeadObjects, Larger);
    llvm::sort(S.LiveObjectList, Larger);
    if (!S.Unreachable && Values)
      S.LiveValues = Values->liveAcross(*CB);
    S.ValuesSkipped = !Values;
    Out.Sites[CB] = std::move(S);
  }
  return Out;
}

} // namespace capri
