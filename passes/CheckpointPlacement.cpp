//===-- CheckpointPlacement.cpp - where linked stacks are checked ---------===//
#include "CheckpointPlacement.h"
#include "CallGraph.h"
#include "CallOutlining.h"
#include "CapriOptions.h"
#include "FrameBound.h"
#include "Lowering.h"
#include "Pipeline.h"
#include "StackAnalysis.h"
#include "TypeIdentity.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/ADT/Statistic.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Analysis/TargetLibraryInfo.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/DebugInfoMetadata.h"
#include "llvm/IR/Function.h"
#include "llvm/IR/GlobalAlias.h"
#include "llvm/IR/GlobalVariable.h"
#include "llvm/IR/InstIterator.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/IntrinsicInst.h"
#include "llvm/IR/Module.h"
#include "llvm/TargetParser/Triple.h"

#include <algorithm>

using namespace llvm;

#define DEBUG_TYPE "capri-checkpoint"

STATISTIC(NumCycle, "Checkpoints on cycle back edges");
STATISTIC(NumMaxPath, "Checkpoints where a path exceeds MaxPath");
STATISTIC(NumCrossFile, "Checkpoints on calls into other modules");
STATISTIC(NumExternal, "Checkpoints on calls into code without metadata");
STATISTIC(NumIndirect, "Checkpoints on indirect calls");
STATISTIC(NumDynamicAlloca, "Checkpoints before dynamic allocas");
STATISTIC(NumForced, "Checkpoints forced by capri.checkpoint_all");
STATISTIC(NumUncheckedCall, "Functions over MaxPath by a call that cannot be a checkpoint");

namespace capri {

AnalysisKey CapriCheckpointAnalysis::Key;

StringRef reasonName(CheckpointReason R) {
  switch (R) {
  case CheckpointReason::Cycle: return "cycle";
  case CheckpointReason::MaxPath: return "maxpath";
  case CheckpointReason::CrossFile: return "cross-file";
  case CheckpointReason::External: return "external";
  case CheckpointReason::Indirect: return "indirect";
  case CheckpointReason::DynamicAlloca: return "dynamic-alloca";
  case CheckpointReason::Forced: return "forced";
  }
  return "";
}

StringRef uncutReasonName(UncutReason R) {
  switch (R) {
  case UncutReason::None: return "none";
  case UncutReason::ReturnsTwice: return "returns-twice";
  case UncutReason::MustTail: return "musttail";
  case UncutReason::InlineAsm: return "inline-asm";
  case UncutReason::Codegen: return "codegen-call";
  case UncutReason::Unsupported: return "unsupported-call";
  }
  return "";
}

const CallBase *Checkpoint::call() const { return dyn_cast_or_null<CallBase>(Site); }

std::optional<uint64_t> libcStackMark(StringRef Name) {
  static const StringMap<uint64_t> Marks = [] {
    StringMap<uint64_t> M;
#define CAPRI_LIBC_MARK(N, B) M[#N] = B;
#include "LibcStackMarks.def"
#define CAPRI_RUNTIME_MARK(N, B) M[#N] = B;
#include "RuntimeStackMarks.def"
    return M;
  }();
  auto It = Marks.find(Name);
  if (It == Marks.end())
    return std::nullopt;
  return It->second;
}

namespace {

/// Functions carrying annotate("<Text>").
SmallPtrSet<const Function *, 8> annotated(const Module &M, StringRef Text) {
  SmallPtrSet<const Function *, 8> Result;
  forEachFunctionAnnotation(M, [&](const Function *F, StringRef Annotation) {
    if (Annotation.trim() == Text)
      Result.insert(F);
  });
  return Result;
}

/// What a call reaches, as placement sees it.
enum class CalleeClass : uint8_t {
  Defined,   ///< functions of this module, whose regions are computed here
  External,  ///< code without metadata: a table mark or the reserve
  CrossFile, ///< defined in another module: the reserve
  Indirect,  ///< an indirect call whose targets are not all known: the reserve
};

/// A call (or a dynamic alloca) of one function.
struct Site {
  const Instruction *I = nullptr; ///< null for calls code generation adds
  bool IsAlloca = false;
  CalleeClass Class = CalleeClass::Defined;
  SmallVector<const Function *, 2> Targets; ///< functions of this module
  std::string Label;
  std::optional<uint64_t> Mark; ///< External: the table's mark
  UncutReason Uncuttable = UncutReason::None;
  bool MustTail = false;
  bool Cut = false;
  CheckpointReason Reason = CheckpointReason::MaxPath;
  uint64_t Region = 0;
};

struct Node {
  const Function *F = nullptr;
  FunctionPlacement *P = nullptr;
  std::vector<Site> Sites;
  uint64_t Longest = 0;
};

class Placer {
public:
  Placer(Module &M, const CallGraphInfo &G, const StackAnalysisInfo &SA,
         FunctionAnalysisManager &FAM, CheckpointPlacementInfo &R)
      : M(M), G(G), SA(SA), FAM(FAM), R(R), TLII(Triple(M.getTargetTriple())) {}

  /// Placement decides where argument blocks go, and blocks grow frames,
  /// which may move placement: place with each function's frame charged
  /// with the block its checkpoints need until nothing grows (a few rounds
  /// at most), else charge every function for all its outlinable calls.
  void run() {
    DenseMap<const Function *, uint64_t> Charged;
    for (unsigned Round = 0;; ++Round) {
      placeOnce(Charged);
      bool Grew = false;
      for (Node &N : Nodes) {
        uint64_t &C = Charged[N.F];
        if (N.P->BlockBytes > C)
          C = N.P->BlockBytes, Grew = true;
      }
      // Without instrumentation there are no blocks to charge.
      if (!Grew || !Instrument)
        break;
      if (Round == 3) {
        for (Node &N : Nodes)
          for (Site &S : N.Sites)
            if (!S.IsAlloca && S.I && cuttable(N, S))
              Charged[N.F] = std::max(Charged[N.F], argumentBlockFrameBytes(
                                                        *cast<CallBase>(S.I), M.getDataLayout()));
        placeOnce(Charged);
        break;
      }
    }
    for (const Checkpoint &C : R.Checkpoints)
      count(C.Reason);
    for (const auto &[F, P] : R.Functions)
      if (P.UncheckedCall != UncutReason::None)
        ++NumUncheckedCall;
  }

  void placeOnce(const DenseMap<const Function *, uint64_t> &Charged) {
    R.Functions.clear();
    R.Checkpoints.clear();
    Nodes.clear();
    Index.clear();
    Ignored.clear();
    CallersOf.clear();
    R.MaxPath = MaxPath;
    R.Slack = Slack;
    R.MinChunk = MinChunk;
    R.Reserve = ExternalReserve;
    // Placement runs at the full-LTO link or without LTO: a module with
    // full-LTO flags that is placed is the linked whole program.
    R.WholeProgram = ltoPhaseOf(M) == LTOPhase::FullPreLink;

    auto NoCheckpoints = annotated(M, "capri.no_checkpoints");
    auto CheckpointAll = annotated(M, "capri.checkpoint_all");
    // Every function first: the map's storage moves as it grows.
    for (const auto &Entry : G.Nodes)
      R.Functions[Entry.first];
    Nodes.reserve(G.Nodes.size());
    for (const auto &Entry : G.Nodes) {
      const Function *F = Entry.first;
      FunctionPlacement &P = R.Functions.find(F)->second;
      P.Frame = FAM.getResult<CapriFrameAnalysis>(const_cast<Function &>(*F)).Total +
                Charged.lookup(F);
      // Naked functions are asm the plugin must not rewrite.
      P.NoCheckpoints = NoCheckpoints.count(F) || F->hasFnAttribute(Attribute::Naked) ||
                        F->hasFnAttribute(Attribute::DisableSanitizerInstrumentation);
      P.CheckpointAll = !P.NoCheckpoints && CheckpointAll.count(F);
      Index[F] = Nodes.size();
      Nodes.push_back(Node{F, &P, {}, 0});
    }
    for (Node &N : Nodes)
      collectSites(N);

    unknownRegions();
    cycles();
    maxPath();
    finish();
  }

private:
  Module &M;
  const CallGraphInfo &G;
  const StackAnalysisInfo &SA;
  FunctionAnalysisManager &FAM;
  CheckpointPlacementInfo &R;
  TargetLibraryInfoImpl TLII;
  std::vector<Node> Nodes;
  DenseMap<const Function *, unsigned> Index;
  /// Edges (site, target) of cycles that could not be checked at all.
  DenseSet<std::pair<const Site *, const Function *>> Ignored;
  std::vector<SmallVector<std::pair<Node *, Site *>, 4>> CallersOf;

  Node *node(const Function *F) {
    auto It = Index.find(F);
    return It == Index.end() ? nullptr : &Nodes[It->second];
  }

  //===--------------------------------------------------------------------===//
  // Sites
  //===--------------------------------------------------------------------===//

  /// A definition of this module that a call to F certainly reaches: the
  /// same rule as the call graph's (no other definition can replace it).
  const Function *definedHere(const Function *F) const {
    if (!F || F->isDeclaration() || !G.node(F))
      return nullptr;
    if (F->hasLocalLinkage())
      return F;
    if (F->isInterposable() || F->hasAvailableExternallyLinkage())
      return nullptr;
    return F;
  }

  /// Whether a symbol this module does not define belongs to the C
  /// implementation (libc, libm, the compiler's runtime) rather than to
  /// another file of the program: the table knows it, LLVM knows it as a
  /// library function, or its name is reserved to the implementation.
  bool isLibrary(StringRef Name, const Function *Decl) const {
    if (libcStackMark(Name))
      return true;
    LibFunc LF;
    if (Decl && TLII.getLibFunc(*Decl, LF))
      return true;
    // C++ names are mangled into the reserved space: only the standard
    // library's (namespace std and its abbreviations) belong to it.
    if (Name.consume_front("_Z")) {
      Name.consume_front("N");
      Name = Name.ltrim("rVK");
      return Name.size() > 1 && Name[0] == 'S' && StringRef("tabsiod").contains(Name[1]);
    }
    return Name.starts_with("__") ||
           (Name.size() > 1 && Name[0] == '_' && isUpper(Name[1]));
  }

  /// Classifies a call by the name of what it reaches.
  void classifyNamed(Site &S, StringRef Name, const Function *F, bool Codegen) {
    S.Label = Name.str();
    if (const Function *D = definedHere(F)) {
      S.Class = CalleeClass::Defined;
      S.Targets.push_back(D);
      return;
    }
    // At the whole-program link nothing is in another file; calls code
    // generation adds go to the implementation.
    if (R.WholeProgram || Codegen || isLibrary(Name, F)) {
      S.Class = CalleeClass::External;
      S.Mark = libcStackMark(Name);
      return;
    }
    S.Class = CalleeClass::CrossFile;
  }

  /// Whether the call graph saw an inline asm of this type that calls.
  bool asmMayCall(const Node &N, const CallBase &CB) const {
    uint32_t Hash = irTypeHash(CB.getFunctionType());
    for (const CallEdge &E : G.node(N.F)->Calls)
      if (E.Kind == CallKind::Asm && E.IRTypeId == Hash)
        return true;
    return false;
  }

  void collectSites(Node &N) {
    const Function &F = *N.F;
    StringSet<> CodegenSeen;
    auto AddCodegen = [&](StringRef Name, const Instruction *I) {
      if (Name.empty() || !CodegenSeen.insert(Name).second)
        return;
      Site S;
      S.I = I;
      S.Uncuttable = UncutReason::Codegen;
      classifyNamed(S, Name, M.getFunction(Name), /*Codegen=*/true);
      N.Sites.push_back(std::move(S));
    };

    bool TlsSeen = false;
    for (const Instruction &I : instructions(F)) {
      if (auto *AI = dyn_cast<AllocaInst>(&I)) {
        if (!AI->isStaticAlloca()) {
          Site S;
          S.I = AI;
          S.IsAlloca = true;
          S.Label = "<alloca>";
          N.Sites.push_back(std::move(S));
          // Its slow path takes the memory from the runtime instead, and
          // gives it back at stackrestore and return: calls that run on
          // what is left of the current chunk, in every such function.
          if (Instrument && !N.P->NoCheckpoints) {
            AddCodegen("__capri_vla_take", AI);
            AddCodegen("__capri_vla_release", AI);
          }
        }
        continue;
      }
      if (!TlsSeen && usesTlsGetAddr(I, M)) {
        TlsSeen = true;
        AddCodegen("__tls_get_addr", &I);
      }
      auto *CB = dyn_cast<CallBase>(&I);
      if (!CB) {
        AddCodegen(instructionLibcall(I).Name, &I);
        continue;
      }
      Site S;
      S.I = CB;
      if (CB->hasFnAttr(Attribute::ReturnsTwice))
        S.Uncuttable = UncutReason::ReturnsTwice;
      if (auto *CI = dyn_cast<CallInst>(CB); CI && CI->isMustTailCall()) {
        S.Uncuttable = UncutReason::MustTail;
        S.MustTail = true;
      }
      if (S.Uncuttable == UncutReason::None && !CB->isInlineAsm() && !isa<CallBrInst>(CB) &&
          !unoutlinableReason(*CB).empty())
        S.Uncuttable = UncutReason::Unsupported;
      if (auto *II = dyn_cast<IntrinsicInst>(CB)) {
        // An intrinsic is a call only when code generation makes it one.
        Libcall Lib = intrinsicLibcall(*II, F);
        if (Lib.Name.empty())
          continue;
        classifyNamed(S, Lib.Name, M.getFunction(Lib.Name), /*Codegen=*/true);
        N.Sites.push_back(std::move(S));
        continue;
      }
      const Value *Target = CB->getCalledOperand()->stripPointerCasts();
      if (CB->isInlineAsm() || isa<CallBrInst>(CB)) {
        if (!asmMayCall(N, *CB))
          continue;
        // The asm cannot be outlined faithfully: its call stays unchecked.
        S.Uncuttable = UncutReason::InlineAsm;
        S.Class = CalleeClass::External;
        S.Label = "<inline asm>";
        N.Sites.push_back(std::move(S));
        continue;
      }
      if (auto *GA = dyn_cast<GlobalAlias>(Target))
        if (!GA->isInterposable())
          Target = GA->getAliaseeObject();
      if (auto *Callee = dyn_cast<Function>(Target)) {
        // A loop yield point's cold call: the stub uses no more below the
        // stack pointer than __morestack's entry (LIMIT_ENTRY_MARGIN, kept
        // under every limit) and finds its own room through __morestack.
        if (Callee->getName().starts_with("__capri_loop_yield"))
          continue;
        classifyNamed(S, Callee->getName(), Callee, /*Codegen=*/false);
        N.Sites.push_back(std::move(S));
        continue;
      }
      if (auto *GV = dyn_cast<GlobalValue>(Target)) {
        // An ifunc or an interposable alias: chosen at load time.
        S.Class = CalleeClass::External;
        S.Label = GV->getName().str();
        S.Mark = libcStackMark(S.Label);
        N.Sites.push_back(std::move(S));
        continue;
      }
      // Indirect: the module's address-taken functions of the call's type.
      CallEdge E;
      E.Kind = CallKind::Indirect;
      if (auto Id = cTypeId(*CB)) {
        E.TypeId = *Id;
      } else {
        E.TypeId = irTypeHash(CB->getFunctionType());
        E.Flags = callflags::TypeCoarse;
      }
      S.Label = calleeLabel(E);
      for (const Function *T : G.indirectTargets(E))
        S.Targets.push_back(T);
      // Only the whole program knows every function an indirect call may
      // reach; in one file of many, a target may live in another.
      S.Class = R.WholeProgram && !S.Targets.empty() ? CalleeClass::Defined
                                                     : CalleeClass::Indirect;
      N.Sites.push_back(std::move(S));
    }
    // Calls code generation adds with no instruction of their own.
    if (stackProtectorCall(F) != MachineCalls::None)
      AddCodegen("__stack_chk_fail", nullptr);
    AddCodegen(profilingCall(F), nullptr);
    AddCodegen(sanitizerRuntimeCall(F), nullptr);
  }

  bool cuttable(const Node &N, const Site &S) const {
    return !S.IsAlloca && !N.P->NoCheckpoints && S.Uncuttable == UncutReason::None;
  }

  void cut(Site &S, CheckpointReason Reason) {
    S.Cut = true;
    S.Reason = Reason;
  }

  /// Whether the graph still has the edge S -> T (for the cycle walk and
  /// the bottom-up order).
  bool live(const Site &S, const Function *T) const {
    if (S.Cut || S.IsAlloca || S.Class != CalleeClass::Defined)
      return false;
    return !Ignored.count({&S, T});
  }

  //===--------------------------------------------------------------------===//
  // 1. Calls whose region the module cannot bound, and checkpoint_all
  //===--------------------------------------------------------------------===//

  void unknownRegions() {
    for (Node &N : Nodes)
      for (Site &S : N.Sites) {
        if (!cuttable(N, S))
          continue;
        switch (S.Class) {
        case CalleeClass::CrossFile:
          cut(S, CheckpointReason::CrossFile);
          continue;
        case CalleeClass::Indirect:
          cut(S, CheckpointReason::Indirect);
          continue;
        case CalleeClass::External:
          if (!S.Mark) {
            cut(S, CheckpointReason::External);
            continue;
          }
          break;
        case CalleeClass::Defined:
          break;
        }
        if (N.P->CheckpointAll || (S.I && S.I->getMetadata(ForcedCheckpointMD)))
          cut(S, CheckpointReason::Forced);
      }
  }

  //===--------------------------------------------------------------------===//
  // 2. Cycles: a depth-first walk inside each strongly connected component
  //===--------------------------------------------------------------------===//

  struct WalkFrame {
    Node *N;
    unsigned SiteIdx = 0;
    unsigned TargetIdx = 0;
  };

  /// The edge a walk frame is at (its site), or null when done.
  static Site *currentSite(WalkFrame &W) {
    return W.SiteIdx < W.N->Sites.size() ? &W.N->Sites[W.SiteIdx] : nullptr;
  }

  /// Moves a walk frame to its next edge: its site and a target of it.
  /// False when the frame's sites are done. The site stays current until
  /// its targets are.
  static bool nextEdge(WalkFrame &W, Site *&S, const Function *&T) {
    while ((S = currentSite(W))) {
      if (W.TargetIdx < S->Targets.size()) {
        T = S->Targets[W.TargetIdx++];
        return true;
      }
      ++W.SiteIdx;
      W.TargetIdx = 0;
    }
    return false;
  }

  void cycles() {
    // Who calls whom, once: the entry of a component is found by its callers.
    CallersOf.assign(Nodes.size(), {});
    for (Node &N : Nodes)
      for (Site &S : N.Sites)
        if (S.Class == CalleeClass::Defined && !S.IsAlloca)
          for (const Function *T : S.Targets)
            CallersOf[Index[T]].push_back({&N, &S});
    for (const RecursionCycle &C : SA.Cycles) {
      SmallPtrSet<const Function *, 8> Members(C.Functions.begin(), C.Functions.end());
      // Members in module order; the entry is the first one called from
      // outside the component (else the first one).
      std::vector<Node *> Order;
      for (const Function *F : C.Functions)
        if (Node *N = node(F))
          Order.push_back(N);
      if (Order.empty())
        continue;
      // Nodes are stored in module order.
      llvm::sort(Order, [](const Node *A, const Node *B) { return A < B; });
      Node *Entry = nullptr;
      for (Node *Cand : Order) {
        for (auto [Caller, S] : CallersOf[Index[Cand->F]])
          if (!Members.count(Caller->F) && live(*S, Cand->F))
            Entry = Cand;
        if (Entry)
          break;
      }
      if (!Entry)
        Entry = Order.front();
      std::vector<Node *> Roots{Entry};
      Roots.insert(Roots.end(), Order.begin(), Order.end());
      walk(Roots, Members);
    }
  }

  /// One depth-first walk over the component: from its entry, then from
  /// any function not yet reached. A closing call that cannot be a
  /// checkpoint removes another edge of its cycle and undoes the part of the
  /// walk that went through it, so the walk stays one walk of the graph as
  /// it now is (no walk starts again from the entry).
  void walk(const std::vector<Node *> &Roots, const SmallPtrSetImpl<const Function *> &Members) {
    SmallPtrSet<const Node *, 16> Visited, OnStack;
    // Nodes in the order the walk reached them, to undo part of the walk.
    std::vector<const Node *> Reached;
    DenseMap<const Node *, size_t> ReachedAt;
    auto Enter = [&](std::vector<WalkFrame> &Stack, Node *N) {
      Visited.insert(N);
      OnStack.insert(N);
      ReachedAt[N] = Reached.size();
      Reached.push_back(N);
      Stack.push_back({N});
    };
    for (Node *Root : Roots) {
      if (Visited.count(Root))
        continue;
      std::vector<WalkFrame> Stack;
      Enter(Stack, Root);
      while (!Stack.empty()) {
        WalkFrame &Top = Stack.back();
        Site *S;
        const Function *T;
        if (!nextEdge(Top, S, T)) {
          OnStack.erase(Top.N);
          Stack.pop_back();
          continue;
        }
        if (!Members.count(T) || !live(*S, T))
          continue;
        Node *TN = node(T);
        if (!OnStack.count(TN)) {
          if (!Visited.count(TN))
            Enter(Stack, TN);
          continue;
        }
        // A back edge Top.N -> TN closes a cycle.
        if (TN == Top.N && S->MustTail) {
          // A function that replaces its own frame: the stack stays as
          // it is, no check is needed.
          Ignored.insert({S, T});
          continue;
        }
        if (cuttable(*Top.N, *S)) {
          cut(*S, CheckpointReason::Cycle);
          continue;
        }
        // The edge into Stack[J + 1] is gone: undo the walk below it (the
        // nodes reached since, all in its subtree) and go on from
        // Stack[J], as if the edge had never been there.
        std::optional<size_t> J = closeUncuttable(Stack, TN, *S, T);
        if (!J)
          continue;
        size_t From = ReachedAt[Stack[*J + 1].N];
        for (size_t I = From; I < Reached.size(); ++I) {
          Visited.erase(Reached[I]);
          OnStack.erase(Reached[I]);
          ReachedAt.erase(Reached[I]);
        }
        Reached.resize(From);
        Stack.resize(*J + 1);
      }
    }
  }

  /// A back edge that cannot be a checkpoint: cut the tree edge nearest to
  /// it on the cycle. A cycle of musttail calls only needs no check (each
  /// call replaces its caller's frame); any other cycle with no call that
  /// can be a checkpoint stays unchecked (and is reported). Returns the
  /// frame whose tree edge is now gone, if any.
  std::optional<size_t> closeUncuttable(std::vector<WalkFrame> &Stack, Node *Head, Site &Back,
                                        const Function *Target) {
    size_t From = 0;
    while (Stack[From].N != Head)
      ++From;
    // Tree edges on the cycle: Stack[J] -> Stack[J+1], for J in [From, top).
    for (size_t J = Stack.size() - 1; J-- > From;) {
      Site *S = currentSite(Stack[J]);
      if (S && cuttable(*Stack[J].N, *S)) {
        cut(*S, CheckpointReason::Cycle);
        return J;
      }
    }
    Ignored.insert({&Back, Target});
    bool AllMustTail = Back.MustTail;
    for (size_t J = From; J + 1 < Stack.size(); ++J) {
      Site *S = currentSite(Stack[J]);
      AllMustTail &= S && S->MustTail;
    }
    if (!AllMustTail)
      for (size_t J = From; J < Stack.size(); ++J)
        Stack[J].N->P->UncheckedCycle = true;
    return std::nullopt;
  }

  //===--------------------------------------------------------------------===//
  // 3. MaxPath, bottom-up over what is left: a DAG
  //===--------------------------------------------------------------------===//

  /// What a call to one function adds below the caller's stack pointer.
  uint64_t contribution(const Node &T) const { return T.Longest; }

  /// The region of a site: the most any of its targets may use.
  uint64_t siteRegion(const Site &S) {
    switch (S.Class) {
    case CalleeClass::External:
      return S.Mark ? *S.Mark : R.Reserve;
    case CalleeClass::CrossFile:
      return R.Reserve;
    case CalleeClass::Indirect:
    case CalleeClass::Defined: {
      uint64_t Region = S.Class == CalleeClass::Indirect ? R.Reserve : 0;
      for (const Function *T : S.Targets)
        Region = std::max(Region, contribution(*node(T)));
      return Region;
    }
    }
    return R.Reserve;
  }

  /// Callees before callers: a post-order walk of the remaining graph. An
  /// edge that still closes a cycle (it cannot, once the cycles are cut;
  /// this only guards the walk) is left out and its cycle flagged.
  std::vector<Node *> bottomUp() {
    std::vector<Node *> Order;
    SmallPtrSet<const Node *, 32> Visited, OnStack;
    for (Node &Root : Nodes) {
      if (Visited.count(&Root))
        continue;
      std::vector<WalkFrame> Stack{{&Root}};
      Visited.insert(&Root);
      OnStack.insert(&Root);
      while (!Stack.empty()) {
        WalkFrame &Top = Stack.back();
        Site *S;
        const Function *T;
        if (!nextEdge(Top, S, T)) {
          OnStack.erase(Top.N);
          Order.push_back(Top.N);
          Stack.pop_back();
          continue;
        }
        if (!live(*S, T))
          continue;
        Node *TN = node(T);
        if (OnStack.count(TN)) {
          Ignored.insert({S, T});
          Top.N->P->UncheckedCycle = TN->P->UncheckedCycle = true;
          continue;
        }
        if (Visited.insert(TN).second) {
          OnStack.insert(TN);
          Stack.push_back({TN});
        }
      }
    }
    return Order;
  }

  void maxPath() {
    for (Node *N : bottomUp())
      place(*N);
  }

  void place(Node &N) {
    const uint64_t Frame = N.P->Frame;
    uint64_t Uncut = 0, Tail = 0;
    UncutReason UncutWhy = UncutReason::None, TailWhy = UncutReason::None;
    std::vector<std::pair<Site *, uint64_t>> Candidates;
    for (Site &S : N.Sites) {
      if (S.Cut || S.IsAlloca)
        continue;
      uint64_t Region = 0;
      if (S.Class == CalleeClass::Defined) {
        for (const Function *T : S.Targets)
          if (!Ignored.count({&S, T}))
            Region = std::max(Region, contribution(*node(T)));
      } else {
        Region = siteRegion(S);
      }
      if (S.MustTail) {
        // The callee replaces the caller's frame: the larger of the two.
        if (Region > Tail)
          Tail = Region, TailWhy = UncutReason::MustTail;
      } else if (!cuttable(N, S)) {
        if (Region > Uncut)
          Uncut = Region, UncutWhy = S.Uncuttable;
      } else {
        Candidates.push_back({&S, Region});
      }
    }
    // From the largest region down: cut while the deepest remaining call
    // makes the path exceed what the function must allow anyway.
    // (Sites are in program order: ties keep it.)
    std::sort(Candidates.begin(), Candidates.end(), [](const auto &A, const auto &B) {
      return A.second != B.second ? A.second > B.second : A.first < B.first;
    });
    uint64_t Floor = std::max<uint64_t>({R.MaxPath, Frame + Uncut, Tail});
    uint64_t Rest = Uncut;
    for (auto &[S, Region] : Candidates) {
      if (!N.P->NoCheckpoints && Region > 0 && Frame + Region > Floor) {
        cut(*S, S->Class == CalleeClass::External ? CheckpointReason::External
                                                  : CheckpointReason::MaxPath);
        continue;
      }
      Rest = std::max(Rest, Region);
    }
    N.Longest = std::max(Frame + Rest, Tail);
    // A call that cannot be a checkpoint and takes the function over
    // MaxPath: the checks on the calls into it cover its whole region.
    uint64_t UncutPath = Uncut ? Frame + Uncut : 0;
    if (!N.P->NoCheckpoints && std::max(UncutPath, Tail) > R.MaxPath)
      N.P->UncheckedCall = UncutPath >= Tail ? UncutWhy : TailWhy;
  }

  //===--------------------------------------------------------------------===//
  // 4. Regions, dynamic allocas, the result
  //===--------------------------------------------------------------------===//

  void finish() {
    const DataLayout &DL = M.getDataLayout();
    for (Node &N : Nodes) {
      N.P->EntryRegion = N.Longest;
      N.P->BlockBytes = 0;
      for (Site &S : N.Sites) {
        if (S.IsAlloca) {
          if (N.P->NoCheckpoints)
            continue;
          // The check asks for the alloca's size plus the rest of the
          // function's region below it.
          S.Cut = true;
          S.Reason = CheckpointReason::DynamicAlloca;
          S.Region = N.Longest > N.P->Frame ? N.Longest - N.P->Frame : 0;
        } else if (S.Cut) {
          S.Region = siteRegion(S);
          if (Instrument)
            N.P->BlockBytes = std::max(N.P->BlockBytes,
                                       argumentBlockFrameBytes(*cast<CallBase>(S.I), DL));
        } else {
          continue;
        }
        Checkpoint C;
        C.Site = S.I;
        C.Caller = N.F;
        C.Callees.assign(S.Targets.begin(), S.Targets.end());
        C.CalleeLabel = S.Label;
        C.Reason = S.Reason;
        C.Region = S.Region;
        N.P->Checkpoints.push_back(R.Checkpoints.size());
        R.Checkpoints.push_back(std::move(C));
      }
    }
  }

  static void count(CheckpointReason Reason) {
    switch (Reason) {
    case CheckpointReason::Cycle: ++NumCycle; break;
    case CheckpointReason::MaxPath: ++NumMaxPath; break;
    case CheckpointReason::CrossFile: ++NumCrossFile; break;
    case CheckpointReason::External: ++NumExternal; break;
    case CheckpointReason::Indirect: ++NumIndirect; break;
    case CheckpointReason::DynamicAlloca: ++NumDynamicAlloca; break;
    case CheckpointReason::Forced: ++NumForced; break;
    }
  }
};

void printLoc(raw_ostream &OS, const Instruction *I) {
  if (!I)
    return;
  const DebugLoc &DL = I->getDebugLoc();
  if (DL && DL.getLine())
    OS << " at " << DL->getFilename() << ":" << DL.getLine();
}

} // namespace

bool CheckpointPlacementInfo::invalidate(Module &M, const PreservedAnalyses &PA,
                                         ModuleAnalysisManager::Invalidator &Inv) {
  auto PAC = PA.getChecker<CapriCheckpointAnalysis>();
  return (!PAC.preserved() && !PAC.preservedSet<AllAnalysesOn<Module>>()) ||
         Inv.invalidate<CapriCallGraphAnalysis>(M, PA) ||
         Inv.invalidate<CapriStackAnalysis>(M, PA);
}

CheckpointPlacementInfo CapriCheckpointAnalysis::run(Module &M, ModuleAnalysisManager &MAM) {
  CheckpointPlacementInfo R;
  const CallGraphInfo &G = MAM.getResult<CapriCallGraphAnalysis>(M);
  const StackAnalysisInfo &SA = MAM.getResult<CapriStackAnalysis>(M);
  auto &FAM = MAM.getResult<FunctionAnalysisManagerModuleProxy>(M).getManager();
  Placer(M, G, SA, FAM, R).run();
  return R;
}

void CheckpointPlacementInfo::print(raw_ostream &OS, const Module &M) const {
  OS << "capri checkpoints of " << M.getModuleIdentifier() << " (max-path " << MaxPath
     << ", slack " << Slack << ", min-chunk " << MinChunk << ", external-reserve " << Reserve
     << (WholeProgram ? ", whole program" : "") << ")\n";
  for (const auto &[F, P] : Functions) {
    OS << "function " << F->getName() << " frame " << P.Frame << " entry-region "
       << P.EntryRegion;
    if (P.NoCheckpoints)
      OS << " no-checkpoints";
    if (P.CheckpointAll)
      OS << " checkpoint-all";
    if (P.UncheckedCall != UncutReason::None)
      OS << " unchecked-call " << uncutReasonName(P.UncheckedCall);
    if (P.BlockBytes)
      OS << " block " << P.BlockBytes;
    if (P.UncheckedCycle)
      OS << " unchecked-cycle";
    OS << "\n";
    for (unsigned I : P.Checkpoints) {
      const Checkpoint &C = Checkpoints[I];
      OS << "  checkpoint " << F->getName() << " -> " << C.CalleeLabel;
      if (C.Callees.size() > 1 || (C.Callees.size() == 1 && C.Callees[0]->getName() != C.CalleeLabel)) {
        OS << " {";
        for (size_t J = 0; J < C.Callees.size(); ++J)
          OS << (J ? ", " : "") << C.Callees[J]->getName();
        OS << "}";
      }
      OS << " " << reasonName(C.Reason) << " region " << C.Region;
      if (C.Reason == CheckpointReason::DynamicAlloca)
        OS << "+size";
      if (C.Region <= Slack && C.Reason != CheckpointReason::DynamicAlloca)
        OS << " small";
      printLoc(OS, C.Site);
      OS << "\n";
    }
  }
}

PreservedAnalyses CapriCheckpointPrinter::run(Module &M, ModuleAnalysisManager &MAM) {
  MAM.getResult<CapriCheckpointAnalysis>(M).print(OS, M);
  return PreservedAnalyses::all();
}

} // namespace capri
