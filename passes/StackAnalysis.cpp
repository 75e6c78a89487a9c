//===-- StackAnalysis.cpp - recursion and worst paths within a module -----===//
#include "StackAnalysis.h"
#include "CapriOptions.h"

#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/ADT/Statistic.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/Function.h"
#include "llvm/IR/GlobalVariable.h"
#include "llvm/IR/Module.h"

using namespace llvm;

#define DEBUG_TYPE "capri-recursion"

STATISTIC(NumCycles, "Recursion cycles found");
STATISTIC(NumBoundedCycles, "Recursion cycles bounded by a declared depth");

namespace capri {

AnalysisKey CapriStackAnalysis::Key;

void forEachFunctionAnnotation(const Module &M,
                               function_ref<void(const Function *, StringRef)> Fn) {
  const GlobalVariable *GA = M.getNamedGlobal("llvm.global.annotations");
  if (!GA || !GA->hasInitializer())
    return;
  auto *Array = dyn_cast<ConstantArray>(GA->getInitializer());
  if (!Array)
    return;
  for (const Use &Op : Array->operands()) {
    auto *Entry = dyn_cast<ConstantStruct>(Op.get());
    if (!Entry || Entry->getNumOperands() < 2)
      continue;
    auto *F = dyn_cast<Function>(Entry->getOperand(0)->stripPointerCasts());
    auto *StrGV = dyn_cast<GlobalVariable>(Entry->getOperand(1)->stripPointerCasts());
    if (!F || !StrGV || !StrGV->hasInitializer())
      continue;
    auto *Str = dyn_cast<ConstantDataSequential>(StrGV->getInitializer());
    if (Str && Str->isCString())
      Fn(F, Str->getAsCString());
  }
}

DenseMap<const Function *, unsigned>
recursionBounds(const Module &M, std::vector<std::pair<const Function *, std::string>> *Malformed) {
  DenseMap<const Function *, unsigned> Bounds;
  forEachFunctionAnnotation(M, [&](const Function *F, StringRef Text) {
    if (!Text.consume_front("capri.recursion_bound="))
      return;
    unsigned Depth;
    if (Text.trim().getAsInteger(10, Depth) || Depth == 0) {
      // A malformed bound leaves the function unbounded.
      if (Malformed)
        Malformed->emplace_back(F, Text.str());
      return;
    }
    Bounds[F] = Depth;
  });
  return Bounds;
}

namespace {

using FnList = SmallVector<const Function *, 8>;

class Solver {
public:
  Solver(const CallGraphInfo &G, FunctionAnalysisManager &FAM,
         const DenseMap<const Function *, unsigned> &Bounds, StackAnalysisInfo &R)
      : G(G), FAM(FAM), Bounds(Bounds), R(R) {}

  void run() {
    for (const auto &[F, N] : G.Nodes) {
      StackInfo &SI = R.Info[F];
      SI.Frame = FAM.getResult<CapriFrameAnalysis>(const_cast<Function &>(*F)).Total;
      auto B = Bounds.find(F);
      SI.RecursionBound = B == Bounds.end() ? 0 : B->second;
      Succ[F] = successors(N);
    }
    for (const auto &[F, N] : G.Nodes)
      if (!Index.count(F))
        tarjan(F);
  }

private:
  const CallGraphInfo &G;
  FunctionAnalysisManager &FAM;
  const DenseMap<const Function *, unsigned> &Bounds;
  StackAnalysisInfo &R;
  DenseMap<const Function *, FnList> Succ;
  DenseMap<const Function *, unsigned> Index, Low;
  SmallPtrSet<const Function *, 32> OnStack;
  std::vector<const Function *> Stack;
  unsigned Counter = 0;

  FnList successors(const FunctionNode &N) {
    SetVector<const Function *> S;
    for (const CallEdge &E : N.Calls) {
      if (const Function *C = G.resolvedCallee(E))
        S.insert(C);
      for (const Function *T : G.indirectTargets(E))
        S.insert(T);
    }
    return FnList(S.begin(), S.end());
  }

  /// Worst external charge of a function's own calls: reserve when it calls
  /// anything outside the module's known code.
  std::string externalCall(const FunctionNode &N) {
    for (const CallEdge &E : N.Calls) {
      if (G.resolvedCallee(E))
        continue;
      if (E.Kind == CallKind::Indirect && !G.indirectTargets(E).empty())
        continue;
      return calleeLabel(E);
    }
    return "";
  }

  /// Iterative Tarjan: deep call chains must not overflow the compiler's stack.
  void tarjan(const Function *Root) {
    struct Frame {
      const Function *F;
      unsigned Next;
    };
    std::vector<Frame> Work{{Root, 0}};
    Index[Root] = Low[Root] = Counter++;
    Stack.push_back(Root);
    OnStack.insert(Root);
    while (!Work.empty()) {
      Frame &Top = Work.back();
      const FnList &Out = Succ[Top.F];
      if (Top.Next < Out.size()) {
        const Function *W = Out[Top.Next++];
        if (!Index.count(W)) {
          Index[W] = Low[W] = Counter++;
          Stack.push_back(W);
          OnStack.insert(W);
          Work.push_back({W, 0});
        } else if (OnStack.count(W)) {
          Low[Top.F] = std::min(Low[Top.F], Index[W]);
        }
        continue;
      }
      const Function *V = Top.F;
      Work.pop_back();
      if (!Work.empty())
        Low[Work.back().F] = std::min(Low[Work.back().F], Low[V]);
      if (Low[V] != Index[V])
        continue;
      FnList SCC;
      const Function *W;
      do {
        W = Stack.back();
        Stack.pop_back();
        OnStack.erase(W);
        SCC.push_back(W);
      } while (W != V);
      finish(SCC);
    }
  }

  bool isRecursive(const FnList &SCC) {
    if (SCC.size() > 1)
      return true;
    return is_contained(Succ[SCC[0]], SCC[0]);
  }

  /// A cycle is bounded when every loop in it passes a function with a
  /// declared depth: without those functions the component is acyclic.
  bool boundedByDeclarations(const FnList &SCC, uint64_t &DepthSum) {
    SmallPtrSet<const Function *, 8> Members(SCC.begin(), SCC.end());
    DepthSum = 0;
    SmallPtrSet<const Function *, 8> Free;
    for (const Function *F : SCC) {
      unsigned B = R.Info[F].RecursionBound;
      if (B)
        DepthSum += B;
      else
        Free.insert(F);
    }
    if (DepthSum == 0)
      return false;
    // Kahn's algorithm on the unbounded members.
    DenseMap<const Function *, unsigned> InDegree;
    for (const Function *F : Free)
      for (const Function *S : Succ[F])
        if (Free.count(S))
          ++InDegree[S];
    std::vector<const Function *> Ready;
    for (const Function *F : Free)
      if (!InDegree.lookup(F))
        Ready.push_back(F);
    unsigned Seen = 0;
    while (!Ready.empty()) {
      const Function *F = Ready.back();
      Ready.pop_back();
      ++Seen;
      for (const Function *S : Succ[F])
        if (Free.count(S) && --InDegree[S] == 0)
          Ready.push_back(S);
    }
    return Seen == Free.size();
  }

  void finish(const FnList &SCC) {
    SmallPtrSet<const Function *, 8> Members(SCC.begin(), SCC.end());
    // The worst way out of the component.
    uint64_t ExitWorst = 0;
    bool ExitUnbounded = false;
    const Function *ExitNext = nullptr;
    std::string ExitExternal;
    for (const Function *F : SCC) {
      for (const Function *S : Succ[F]) {
        if (Members.count(S))
          continue;
        const StackInfo &SI = R.Info[S];
        ExitUnbounded |= SI.Unbounded;
        if (SI.Worst > ExitWorst || (!ExitNext && ExitExternal.empty())) {
          ExitWorst = SI.Worst;
          ExitNext = S;
          ExitExternal.clear();
        }
      }
      std::string Ext = externalCall(*G.node(F));
      if (!Ext.empty() && ExternalReserve > ExitWorst) {
        ExitWorst = ExternalReserve;
        ExitNext = nullptr;
        ExitExternal = Ext;
      }
    }

    bool Dynamic = false;
    uint64_t Frames = 0;
    for (const Function *F : SCC) {
      Frames += R.Info[F].Frame;
      Dynamic |= (FAM.getResult<CapriFrameAnalysis>(const_cast<Function &>(*F)).Flags &
                  frameflags::DynamicAlloca) != 0;
    }

    if (!isRecursive(SCC)) {
      StackInfo &SI = R.Info[SCC[0]];
      SI.Worst = SI.Frame + ExitWorst;
      SI.Unbounded = ExitUnbounded || Dynamic;
      SI.Next = ExitNext;
      SI.NextExternal = ExitExternal;
      return;
    }

    RecursionCycle C;
    C.Functions.assign(SCC.rbegin(), SCC.rend());
    C.Bounded = boundedByDeclarations(SCC, C.DepthSum);
    ++NumCycles;
    if (C.Bounded)
      ++NumBoundedCycles;
    int CycleIndex = static_cast<int>(R.Cycles.size());
    for (const Function *F : SCC) {
      StackInfo &SI = R.Info[F];
      SI.Cycle = CycleIndex;
      // Each round of the recursion passes every member at most once
      // between two bounded activations.
      SI.Worst = (C.Bounded ? (C.DepthSum + 1) : 1) * Frames + ExitWorst;
      SI.Unbounded = !C.Bounded || ExitUnbounded || Dynamic;
      SI.Next = ExitNext;
      SI.NextExternal = ExitExternal;
    }
    R.Cycles.push_back(std::move(C));
  }
};

} // namespace

std::vector<std::string> StackAnalysisInfo::worstPath(const Function *F) const {
  std::vector<std::string> Path;
  SmallPtrSet<const Function *, 16> Seen;
  while (F && Seen.insert(F).second) {
    Path.push_back(F->getName().str());
    const StackInfo *SI = get(F);
    if (!SI)
      break;
    if (SI->Cycle >= 0)
      Path.back() += " (recursion)";
    if (!SI->NextExternal.empty()) {
      Path.push_back(SI->NextExternal + " (outside this module)");
      break;
    }
    F = SI->Next;
  }
  return Path;
}

bool StackAnalysisInfo::invalidate(Module &M, const PreservedAnalyses &PA,
                                   ModuleAnalysisManager::Invalidator &Inv) {
  // Built from the call graph (and the frames, which the module-level
  // preserved set covers): stale when either is.
  auto PAC = PA.getChecker<CapriStackAnalysis>();
  return (!PAC.preserved() && !PAC.preservedSet<AllAnalysesOn<Module>>()) ||
         Inv.invalidate<CapriCallGraphAnalysis>(M, PA);
}

StackAnalysisInfo CapriStackAnalysis::run(Module &M, ModuleAnalysisManager &MAM) {
  StackAnalysisInfo R;
  const CallGraphInfo &G = MAM.getResult<CapriCallGraphAnalysis>(M);
  auto &FAM = MAM.getResult<FunctionAnalysisManagerModuleProxy>(M).getManager();
  auto Bounds = recursionBounds(M);
  Solver(G, FAM, Bounds, R).run();
  return R;
}

void StackAnalysisInfo::print(raw_ostream &OS, const Module &M) const {
  OS << "capri stack of " << M.getModuleIdentifier() << "\n";
  for (const Function &F : M) {
    const StackInfo *SI = get(&F);
    if (!SI)
      continue;
    OS << "function " << F.getName() << " frame " << SI->Frame << " worst "
       << SI->Worst << (SI->Unbounded ? "+unbounded" : "");
    if (SI->RecursionBound)
      OS << " depth " << SI->RecursionBound;
    OS << " path";
    for (const std::string &P : worstPath(&F))
      OS << " " << P;
    OS << "\n";
  }
  for (const RecursionCycle &C : Cycles) {
    OS << "cycle" << (C.Bounded ? " bounded" : " unbounded");
    if (C.Bounded)
      OS << " depth " << C.DepthSum;
    OS << ":";
    for (const Function *F : C.Functions)
      OS << " " << F->getName();
    OS << "\n";
  }
}

PreservedAnalyses CapriStackPrinter::run(Module &M, ModuleAnalysisManager &MAM) {
  MAM.getResult<CapriStackAnalysis>(M).print(OS, M);
  return PreservedAnalyses::all();
}

} // namespace capri
