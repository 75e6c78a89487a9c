//===-- YieldSites.cpp - calls that may park the calling capri thread -----===//
#include "YieldSites.h"
#include "CallGraph.h"
#include "CapriOptions.h"
#include "FrameBound.h"
#include "LiveState.h"
#include "MetadataEmitter.h"
#include "Pipeline.h"

#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/Statistic.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Analysis/OptimizationRemarkEmitter.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/DebugInfoMetadata.h"
#include "llvm/IR/DiagnosticInfo.h"
#include "llvm/IR/GlobalVariable.h"
#include "llvm/IR/InstIterator.h"
#include "llvm/TargetParser/Triple.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/IntrinsicInst.h"
#include "llvm/IR/Module.h"

using namespace llvm;

#define DEBUG_TYPE "capri-yield-sites"

STATISTIC(NumDirect, "Yield sites that call a yield primitive");
STATISTIC(NumTransitive, "Yield sites that call a function that parks");
STATISTIC(NumUnknown, "Yield sites the plugin cannot see into");
STATISTIC(NumStores, "Site-word stores before yield sites");

namespace capri {

AnalysisKey CapriYieldSiteAnalysis::Key;

const char *yieldKindName(YieldKind K) {
  switch (K) {
  case YieldKind::Direct: return "direct";
  case YieldKind::Transitive: return "transitive";
  case YieldKind::Unknown: return "unknown";
  }
  return "unknown";
}

bool isYieldPrimitive(StringRef Name) {
  static const StringSet<> Set = [] {
    StringSet<> S;
#define CAPRI_YIELD_PRIMITIVE(N) S.insert(#N);
#include "YieldPrimitives.def"
    return S;
  }();
  return Set.contains(Name);
}

bool neverParks(StringRef Name) {
  static const StringSet<> Set = [] {
    StringSet<> S;
#define CAPRI_LIBC_MARK(N, B) S.insert(#N);
#define CAPRI_LIBC_NEVER_PARKS(N) S.insert(#N);
#include "LibcStackMarks.def"
    // libcapri's entries with a mark that are not yield primitives (those
    // are classified first): they wake, allocate or make descriptors, and
    // run none of the program's code (RuntimeStackMarks.def leaves out the
    // ones that do, capri_once and capri_exit among them).
#define CAPRI_RUNTIME_MARK(N, B) S.insert(#N);
#include "RuntimeStackMarks.def"
#undef CAPRI_RUNTIME_MARK
    return S;
  }();
  return Set.contains(Name) || Name.starts_with("llvm.");
}

bool YieldSiteInfo::invalidate(Module &, const PreservedAnalyses &PA,
                               ModuleAnalysisManager::Invalidator &) {
  auto PAC = PA.getChecker<CapriYieldSiteAnalysis>();
  return !PAC.preserved() && !PAC.preservedSet<AllAnalysesOn<Module>>();
}

namespace {

/// The calls of an edge that are real calls in the IR (not intrinsics, and
/// not instructions code generation turns into calls).
SmallVector<const CallBase *, 2> realCalls(const CallEdge &E) {
  SmallVector<const CallBase *, 2> Out;
  for (const Instruction *I : E.Sites)
    if (auto *CB = dyn_cast_or_null<CallBase>(I); CB && !isa<IntrinsicInst>(CB))
      Out.push_back(CB);
  return Out;
}

/// What an edge is when its callee's own state does not decide it.
struct EdgeClass {
  enum { Callee, Direct, Never, Unknown } What;
  const Function *Resolved = nullptr;
  std::string Name;
};

EdgeClass classify(const CallGraphInfo &G, const CallEdge &E) {
  switch (E.Kind) {
  case CallKind::Indirect:
  case CallKind::Asm:
    return {EdgeClass::Unknown, nullptr, ""};
  case CallKind::Defined:
  case CallKind::External:
    break;
  }
  StringRef Name = E.Callee ? E.Callee->getName() : StringRef(E.Name);
  if (isYieldPrimitive(Name))
    return {EdgeClass::Direct, nullptr, Name.str()};
  if (const Function *C = G.resolvedCallee(E))
    return {EdgeClass::Callee, C, Name.str()};
  if (neverParks(Name))
    return {EdgeClass::Never, nullptr, Name.str()};
  return {EdgeClass::Unknown, nullptr, Name.str()};
}

} // namespace

YieldSiteInfo CapriYieldSiteAnalysis::run(Module &M, ModuleAnalysisManager &MAM) {
  const CallGraphInfo &G = MAM.getResult<CapriCallGraphAnalysis>(M);
  YieldSiteInfo R;

  // Bottom-up to a fixpoint: a function's state is the largest of its
  // edges' (a direct site parks, an unknown one may; a call to a function
  // of the module has that function's state). Monotone over a finite
  // lattice, so the worklist ends; a cycle through a site parks.
  DenseMap<const Function *, SmallVector<const Function *, 4>> Callers;
  SetVector<const Function *> Work;
  for (const auto &[F, N] : G.Nodes) {
    ParkState S = ParkState::Never;
    for (const CallEdge &E : N.Calls) {
      if (realCalls(E).empty())
        continue;
      EdgeClass C = classify(G, E);
      if (C.What == EdgeClass::Direct)
        S = ParkState::Parks;
      else if (C.What == EdgeClass::Unknown)
        S = std::max(S, ParkState::MayPark);
      else if (C.What == EdgeClass::Callee)
        Callers[C.Resolved].push_back(F);
    }
    R.State[F] = S;
    Work.insert(F);
  }
  while (!Work.empty()) {
    const Function *F = Work.pop_back_val();
    ParkState S = R.stateOf(F);
    if (S == ParkState::Never)
      continue;
    for (const Function *Caller : Callers.lookup(F))
      if (R.stateOf(Caller) < S) {
        R.State[Caller] = S;
        Work.insert(Caller);
      }
  }

  for (const auto &[F, N] : G.Nodes) {
    std::vector<YieldSite> Sites;
    for (const CallEdge &E : N.Calls) {
      EdgeClass C = classify(G, E);
      YieldSite Y;
      Y.Callee = calleeLabel(E);
      switch (C.What) {
      case EdgeClass::Never:
        continue;
      case EdgeClass::Direct:
        Y.Kind = YieldKind::Direct;
        Y.Primitive = C.Name;
        Y.Store = true;
        break;
      case EdgeClass::Callee:
        switch (R.stateOf(C.Resolved)) {
        case ParkState::Never:
          continue;
        case ParkState::Parks:
          Y.Kind = YieldKind::Transitive;
          break;
        case ParkState::MayPark:
          // The callee's own unknown sites store the word.
          Y.Kind = YieldKind::Unknown;
          break;
        }
        break;
      case EdgeClass::Unknown:
        Y.Kind = YieldKind::Unknown;
        Y.Indirect = E.Kind == CallKind::Indirect;
        Y.Store = E.Kind != CallKind::Asm;
        Y.ClearAfter = Y.Store;
        break;
      }
      for (const CallBase *CB : realCalls(E)) {
        YieldSite S = Y;
        S.Call = CB;
        // Not after a call in tail position (a store there would stop the
        // backend's tail call, which the stack bounds count on), nor after an invoke
        // whose normal destination other edges reach.
        if (auto *CI = dyn_cast<CallInst>(CB);
            CI && (CI->isMustTailCall() ||
                   (CI->isTailCall() && isa<ReturnInst>(CI->getNextNonDebugInstruction()))))
          S.ClearAfter = false;
        if (auto *II = dyn_cast<InvokeInst>(CB); II && !II->getNormalDest()->getSinglePredecessor())
          S.ClearAfter = false;
        if (isa<CallBrInst>(CB))
          S.ClearAfter = false;
        Sites.push_back(S);
      }
    }
    if (Sites.empty())
      continue;
    // In the order of the calls in the function.
    DenseMap<const Instruction *, unsigned> Order;
    unsigned I = 0;
    for (const Instruction &Inst : instructions(*F))
      Order[&Inst] = I++;
    llvm::sort(Sites, [&](const YieldSite &A, const YieldSite &B) {
      return Order.lookup(A.Call) < Order.lookup(B.Call);
    });
    R.Sites[F] = std::move(Sites);
  }
  return R;
}

namespace {

const char *stateName(ParkState S) {
  switch (S) {
  case ParkState::Never: return "never parks";
  case ParkState::MayPark: return "may park";
  case ParkState::Parks: return "parks";
  }
  return "";
}

void printLocation(raw_ostream &OS, const CallBase &CB) {
  const DebugLoc &DL = CB.getDebugLoc();
  if (!DL)
    return;
  OS << " at " << DL->getFilename() << ":" << DL.getLine();
  if (DL.getCol())
    OS << ":" << DL.getCol();
}

/// Live state of every site of F.
FunctionLiveState liveStateOf(Function &F, const std::vector<YieldSite> &Sites,
                              FunctionAnalysisManager &FAM) {
  std::vector<const CallBase *> Calls;
  for (const YieldSite &S : Sites)
    Calls.push_back(S.Call);
  return computeLiveState(F, Calls, FAM.getResult<CapriFrameAnalysis>(F));
}

} // namespace

PreservedAnalyses CapriYieldSitePrinter::run(Module &M, ModuleAnalysisManager &MAM) {
  const YieldSiteInfo &YS = MAM.getResult<CapriYieldSiteAnalysis>(M);
  auto &FAM = MAM.getResult<FunctionAnalysisManagerModuleProxy>(M).getManager();
  OS << "capri yield sites of " << M.getName() << ":\n";
  for (Function &F : M) {
    if (F.isDeclaration() || !YS.State.count(&F))
      continue;
    OS << "  " << F.getName() << ": " << stateName(YS.stateOf(&F)) << "\n";
    const std::vector<YieldSite> *Sites = YS.sitesOf(&F);
    if (!Sites)
      continue;
    FunctionLiveState LS = liveStateOf(F, *Sites, FAM);
    for (const YieldSite &S : *Sites) {
      OS << "    " << yieldKindName(S.Kind) << " " << S.Callee;
      printLocation(OS, *S.Call);
      const SiteLiveState *L = LS.get(S.Call);
      OS << ": frame " << L->Frame << ", live " << L->live() << " (objects "
         << L->LiveObjects << ", values " << L->LiveValues << "), dead " << L->Dead;
      if (!L->DeadObjects.empty())
        OS << " [" << L->deadList(4) << "]";
      if (L->NoLifetimes)
        OS << ", no lifetimes";
      if (L->ValuesSkipped)
        OS << ", values not counted";
      if (S.Store)
        OS << ", stored";
      if (S.ClearAfter)
        OS << ", cleared after";
      OS << "\n";
    }
  }
  return PreservedAnalyses::all();
}

namespace {

/// The module's definition of the site word: weak, in a COMDAT group of
/// its own name (one copy per link; libcapri's strong one wins), initial-
/// exec TLS, pointer-sized. A module that defines it already (libcapri
/// itself) keeps its own; a declaration becomes the weak definition. Null
/// when the name is taken by something else, which then gets no stores.
GlobalVariable *siteWord(Module &M) {
  LLVMContext &Ctx = M.getContext();
  Type *Ptr = PointerType::getUnqual(Ctx);
  auto *GV = dyn_cast_or_null<GlobalVariable>(M.getNamedValue(YieldSiteWordName));
  if (M.getNamedValue(YieldSiteWordName) &&
      (!GV || !GV->isThreadLocal() ||
       !(GV->getValueType()->isPointerTy() || GV->getValueType()->isIntegerTy(64)) ||
       M.getDataLayout().getTypeStoreSize(GV->getValueType()) != 8))
    return nullptr;
  if (GV && !GV->isDeclaration())
    return GV; // libcapri's own definition, or one written by hand
  if (!GV)
    GV = new GlobalVariable(M, Ptr, /*isConstant=*/false, GlobalValue::WeakAnyLinkage,
                            nullptr, YieldSiteWordName, nullptr,
                            GlobalValue::InitialExecTLSModel);
  // A declaration (the program names the word too) becomes the definition.
  GV->setLinkage(GlobalValue::WeakAnyLinkage);
  GV->setInitializer(Constant::getNullValue(GV->getValueType()));
  GV->setThreadLocalMode(GlobalValue::InitialExecTLSModel);
  GV->setDSOLocal(false);
  GV->setAlignment(Align(8));
  if (Triple(M.getTargetTriple()).supportsCOMDAT())
    GV->setComdat(M.getOrInsertComdat(YieldSiteWordName));
  return GV;
}

void remark(OptimizationRemarkEmitter &ORE, const YieldSite &S, const SiteLiveState &L) {
  ORE.emit([&] {
    OptimizationRemarkAnalysis R("capri-live-state", "YieldSite", S.Call);
    R << yieldKindName(S.Kind) << " yield site " << ore::NV("Callee", S.Callee) << "(): frame "
      << ore::NV("FrameBytes", L.Frame) << " bytes, live " << ore::NV("LiveBytes", L.live())
      << " bytes, dead " << ore::NV("DeadBytes", L.Dead) << " bytes";
    unsigned N = 0;
    for (const StackObject &O : L.DeadObjects) {
      if (N++ == 4)
        break;
      R << (N == 1 ? "; dead here: " : ", ") << O.Name << " (" << formatBytes(O.Size) << ")";
    }
    if (L.NoLifetimes)
      R << " (no lifetime markers: every object counted live)";
    if (L.ValuesSkipped)
      R << " (function too large: SSA values not counted)";
    return R;
  });
}

} // namespace

PreservedAnalyses CapriYieldSitesPass::run(Module &M, ModuleAnalysisManager &MAM) {
  if (!YieldSites || !EmitMetadata || !analysesModule(M, AtLTOLink))
    return PreservedAnalyses::all();
  if (M.getNamedGlobal(RecordGlobalName) || M.getModuleFlag("capri.yield_sites"))
    return PreservedAnalyses::all(); // never twice for the same code
  M.addModuleFlag(Module::Max, "capri.yield_sites", 1);

  const YieldSiteInfo &YS = MAM.getResult<CapriYieldSiteAnalysis>(M);
  auto &FAM = MAM.getResult<FunctionAnalysisManagerModuleProxy>(M).getManager();
  LLVMContext &Ctx = M.getContext();
  Type *I8 = Type::getInt8Ty(Ctx);
  Type *I32 = Type::getInt32Ty(Ctx);
  Type *I64 = Type::getInt64Ty(Ctx);
  GlobalVariable *Word = nullptr;
  unsigned NextPlaceholder = 0;

  // Copy what the IR changes below would disturb.
  std::vector<std::pair<Function *, std::vector<YieldSite>>> Work;
  for (const auto &[F, Sites] : YS.Sites)
    Work.push_back({const_cast<Function *>(F), Sites});

  for (auto &[F, Sites] : Work) {
    FunctionLiveState LS = liveStateOf(*F, Sites, FAM);
    auto &ORE = FAM.getResult<OptimizationRemarkEmitterAnalysis>(*F);
    for (const YieldSite &S : Sites) {
      const SiteLiveState &L = *LS.get(S.Call);
      remark(ORE, S, L);
      auto *CB = const_cast<CallBase *>(S.Call);
      int64_t Placeholder = -1;
      // A naked function has no frame to run the store's code in.
      const bool CanStore = S.Store && !F->hasFnAttribute(Attribute::Naked);
      if (CanStore && !Word)
        Word = siteWord(M);
      if (CanStore && Word) {
        Placeholder = NextPlaceholder++;
        auto *P = new GlobalVariable(M, I8, /*isConstant=*/true, GlobalValue::PrivateLinkage,
                                     ConstantInt::get(I8, 0),
                                     SitePlaceholderPrefix + Twine(Placeholder));
        IRBuilder<> B(CB);
        Value *Addr = B.CreateThreadLocalAddress(Word);
        B.CreateAlignedStore(P, Addr, Align(8));
        ++NumStores;
        // Unknown callees may return without reaching a primitive (whose
        // entry clears the word): clear it after the call, so no later
        // park from code without sites is named by this one.
        Instruction *After = nullptr;
        if (S.ClearAfter && isa<CallInst>(CB))
          After = CB->getNextNode();
        else if (S.ClearAfter && isa<InvokeInst>(CB))
          After = &*cast<InvokeInst>(CB)->getNormalDest()->getFirstInsertionPt();
        if (After) {
          IRBuilder<> A(After);
          A.CreateAlignedStore(ConstantPointerNull::get(PointerType::getUnqual(Ctx)),
                               A.CreateThreadLocalAddress(Word), Align(8));
        }
      }
      uint32_t Flags = 0;
      if (Placeholder >= 0) Flags |= CAPRI_MD_YSF_STORED;
      if (L.NoLifetimes) Flags |= CAPRI_MD_YSF_NO_LIFETIMES;
      if (S.Indirect) Flags |= CAPRI_MD_YSF_INDIRECT;
      Metadata *Ops[] = {
          ConstantAsMetadata::get(ConstantInt::get(I32, unsigned(S.Kind))),
          ConstantAsMetadata::get(ConstantInt::get(I32, Flags)),
          MDString::get(Ctx, S.Primitive),
          ConstantAsMetadata::get(ConstantInt::get(I64, L.Frame)),
          ConstantAsMetadata::get(ConstantInt::get(I64, L.live())),
          ConstantAsMetadata::get(ConstantInt::get(I64, L.Dead)),
          MDString::get(Ctx, L.deadList(4)),
          ConstantAsMetadata::get(ConstantInt::get(I64, Placeholder, /*IsSigned=*/true)),
      };
      CB->setMetadata(YieldSiteMD, MDNode::get(Ctx, Ops));
      switch (S.Kind) {
      case YieldKind::Direct: ++NumDirect; break;
      case YieldKind::Transitive: ++NumTransitive; break;
      case YieldKind::Unknown: ++NumUnknown; break;
      }
    }
  }
  return PreservedAnalyses::none();
}

} // namespace capri
