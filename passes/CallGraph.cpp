//===-- CallGraph.cpp - capri's call graph of a module --------------------===//
#include "CallGraph.h"
#include "Lowering.h"
#include "TypeIdentity.h"

#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/Statistic.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/DebugInfoMetadata.h"
#include "llvm/IR/Function.h"
#include "llvm/IR/GlobalAlias.h"
#include "llvm/IR/GlobalIFunc.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/IR/InlineAsm.h"
#include "llvm/IR/InstIterator.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/IntrinsicInst.h"
#include "llvm/IR/Module.h"

using namespace llvm;

#define DEBUG_TYPE "capri-callgraph"

STATISTIC(NumIndirect, "Indirect calls seen");
STATISTIC(NumCodegenCalls, "Calls code generation will introduce");

namespace capri {

AnalysisKey CapriCallGraphAnalysis::Key;

namespace {

bool isBookkeepingGlobal(const GlobalVariable *GV) {
  StringRef N = GV->getName();
  return N == "llvm.used" || N == "llvm.compiler.used" ||
         N == "llvm.global.annotations" || N.starts_with("__capri_");
}

/// -finstrument-functions passes every function's own address to these
/// hooks, which only record it: not a way to call the function.
bool isProfilingHook(const CallBase &CB) {
  const Function *Callee = CB.getCalledFunction();
  if (!Callee)
    return false;
  StringRef N = Callee->getName();
  return N == "__cyg_profile_func_enter" || N == "__cyg_profile_func_exit" ||
         N == "__cyg_profile_func_enter_bare";
}

/// Whether some use of V (a function, or a constant or alias built from
/// it) is more than a direct call or bookkeeping.
bool addressEscapes(const Value *V, SmallPtrSetImpl<const Value *> &Seen) {
  if (!Seen.insert(V).second)
    return false;
  for (const Use &U : V->uses()) {
    const User *Usr = U.getUser();
    if (auto *CB = dyn_cast<CallBase>(Usr)) {
      if (CB->isCallee(&U) || isProfilingHook(*CB))
        continue;
      return true;
    }
    if (auto *GV = dyn_cast<GlobalVariable>(Usr)) {
      if (isBookkeepingGlobal(GV))
        continue;
      return true;
    }
    // Constant expressions, initialisers and aliases: follow their uses.
    if (isa<Constant>(Usr)) {
      if (addressEscapes(Usr, Seen))
        return true;
      continue;
    }
    return true; // an instruction uses the address
  }
  return false;
}

/// Whether an inline asm string may transfer control to other code: a
/// "call" mnemonic (not inside "syscall" or a name), or an indirect jump.
bool asmMayCall(const InlineAsm &IA) {
  StringRef S = IA.getAsmString();
  auto IsWordStart = [&](size_t Pos) {
    return Pos == 0 || !(isAlnum(S[Pos - 1]) || S[Pos - 1] == '_' || S[Pos - 1] == '.');
  };
  for (size_t Pos = S.find("call"); Pos != StringRef::npos; Pos = S.find("call", Pos + 1))
    if (IsWordStart(Pos))
      return true;
  for (size_t Pos = S.find("jmp"); Pos != StringRef::npos; Pos = S.find("jmp", Pos + 1)) {
    if (!IsWordStart(Pos))
      continue;
    StringRef Rest = S.drop_front(Pos + 3);
    Rest.consume_front("q");
    Rest = Rest.ltrim(" \t");
    if (Rest.starts_with("*"))
      return true;
  }
  return false;
}

} // namespace

class CallGraphBuilder {
public:
  CallGraphBuilder(const Module &M, CallGraphInfo &G) : M(M), G(G) {}

  /// The graph is the program's as written: the thunks of checkpoint slow
  /// paths and the calls to __morestack that run them are not part of it
  /// (the original call stays on the fast path, and is the edge), nor are
  /// the runtime calls of variable-size allocas' slow paths (in functions
  /// whose frames are unbounded anyway; placement charged them), nor the
  /// cold calls of loop yield points (the stub finds its own stack room
  /// through __morestack).
  static bool isInstrumentation(const Function &F) {
    return F.hasFnAttribute("capri-thunk") ||
           StringSwitch<bool>(F.getName())
               .Cases("__morestack", "__capri_vla_take", "__capri_vla_release",
                      "__capri_loop_yield", true)
               .Default(false);
  }

  void build() {
    for (const Function &F : M) {
      if (isInstrumentation(F))
        continue;
      if (F.isDeclaration()) {
        if (!F.isIntrinsic() && isAddressTaken(F))
          addReference(F);
        continue;
      }
      if (auto Id = cTypeId(F))
        (void)Id, G.HasTypeIds = true;
    }
    for (const Function &F : M)
      if (!F.isDeclaration() && !isInstrumentation(F))
        addFunction(F);
  }

private:
  const Module &M;
  CallGraphInfo &G;

  void typeOf(const Function &F, uint32_t &TypeId, uint32_t &IRTypeId, bool &Coarse) {
    IRTypeId = irTypeHash(F.getFunctionType());
    if (auto Id = cTypeId(F)) {
      TypeId = *Id;
      Coarse = false;
    } else {
      TypeId = IRTypeId;
      Coarse = true;
    }
  }

  void addReference(const Function &F) {
    AddressReference R{&F, 0, 0, false};
    typeOf(F, R.TypeId, R.IRTypeId, R.TypeCoarse);
    G.References.push_back(R);
  }

  void addFunction(const Function &F) {
    FunctionNode &N = G.Nodes[&F];
    N.F = &F;
    N.AddressTaken = isAddressTaken(F);
    N.Leaf = machineCalls(F) != MachineCalls::Definite;
    typeOf(F, N.TypeId, N.IRTypeId, N.TypeCoarse);
    if (N.AddressTaken) {
      G.ByType[(uint64_t(N.TypeCoarse) << 32) | N.TypeId].push_back(&F);
      if (!N.TypeCoarse) // coarse calls match by IR type
        G.ByType[(uint64_t(1) << 32) | N.IRTypeId].push_back(&F);
    }

    bool TlsSeen = false;
    for (const Instruction &I : instructions(F)) {
      if (!TlsSeen && usesTlsGetAddr(I, M)) {
        TlsSeen = true;
        addCodegen(N, "__tls_get_addr", &I);
      }
      if (auto *CB = dyn_cast<CallBase>(&I)) {
        addCall(N, *CB);
        continue;
      }
      Libcall Lib = instructionLibcall(I);
      if (!Lib.Name.empty())
        addCodegen(N, Lib.Name, &I);
    }
    if (stackProtectorCall(F) != MachineCalls::None)
      addCodegen(N, "__stack_chk_fail", nullptr);
    std::string Profiling = profilingCall(F);
    if (!Profiling.empty())
      addCodegen(N, Profiling, nullptr);
    std::string Sanitizer = sanitizerRuntimeCall(F);
    if (!Sanitizer.empty())
      addCodegen(N, Sanitizer, nullptr);
  }

  /// Calls with no line (introduced by code generation, or given line 0
  /// when an optimisation moved them) are placed at their function.
  static void locateInFunction(const FunctionNode &N, CallEdge &E) {
    if (E.Loc && E.Loc.getLine() != 0)
      return;
    if (const DISubprogram *SP = N.F->getSubprogram())
      E.Loc = DILocation::get(SP->getContext(), SP->getLine(), 0,
                              const_cast<DISubprogram *>(SP));
  }

  void addEdge(FunctionNode &N, CallEdge E) {
    if (E.Site)
      E.Sites.push_back(E.Site);
    // One edge per distinct callee; the first call keeps its location.
    for (CallEdge &Old : N.Calls) {
      if (Old.Kind == E.Kind && Old.Callee == E.Callee && Old.Name == E.Name &&
          Old.TypeId == E.TypeId && Old.IRTypeId == E.IRTypeId &&
          ((Old.Flags ^ E.Flags) & callflags::TypeCoarse) == 0) {
        Old.Sites.append(E.Sites.begin(), E.Sites.end());
        Old.Flags |= E.Flags & ~callflags::Tail;
        if (!(E.Flags & callflags::Tail))
          Old.Flags &= ~callflags::Tail; // tail only if every call is
        return;
      }
    }
    N.Calls.push_back(std::move(E));
  }

  void addCodegen(FunctionNode &N, StringRef Name, const Instruction *I) {
    CallEdge E;
    E.Kind = CallKind::External;
    E.Flags = callflags::Codegen;
    E.Name = Name.str();
    E.Callee = M.getFunction(Name);
    if (E.Callee && E.Callee->isDeclaration())
      E.Callee = nullptr;
    if (E.Callee)
      E.Kind = E.Callee->hasLocalLinkage() ? CallKind::Defined : CallKind::External;
    E.Site = I;
    if (I)
      E.Loc = I->getDebugLoc();
    ++NumCodegenCalls;
    locateInFunction(N, E);
    addEdge(N, std::move(E));
  }

  void addCall(FunctionNode &N, const CallBase &CB) {
    if (auto *II = dyn_cast<IntrinsicInst>(&CB)) {
      Libcall Lib = intrinsicLibcall(*II, *N.F);
      if (!Lib.Name.empty())
        addCodegen(N, Lib.Name, &CB);
      return;
    }
    uint8_t Flags = 0;
    if (auto *CI = dyn_cast<CallInst>(&CB); CI && CI->isTailCall())
      Flags |= callflags::Tail;
    if (auto *CI = dyn_cast<CallInst>(&CB); CI && CI->isMustTailCall())
      Flags |= callflags::MustTail;
    if (CB.hasFnAttr(Attribute::ReturnsTwice))
      Flags |= callflags::ReturnsTwice;
    if (isa<InvokeInst>(CB))
      Flags |= callflags::Invoke;
    if (isa<CallBrInst>(CB))
      Flags |= callflags::CallBr;

    CallEdge E;
    E.Site = &CB;
    E.Loc = CB.getDebugLoc();
    locateInFunction(N, E);
    E.IRTypeId = irTypeHash(CB.getFunctionType());

    const Value *Target = CB.getCalledOperand()->stripPointerCasts();
    if (auto *IA = dyn_cast<InlineAsm>(Target)) {
      // Only an asm that can jump elsewhere is a call we cannot see into.
      if (!asmMayCall(*IA))
        return;
      E.Kind = CallKind::Asm;
      E.Flags = Flags;
      addEdge(N, std::move(E));
      return;
    }
    if (auto *GA = dyn_cast<GlobalAlias>(Target))
      if (!GA->isInterposable())
        Target = GA->getAliaseeObject();
    if (auto *Callee = dyn_cast<Function>(Target)) {
      if (isInstrumentation(*Callee))
        return;
      if (Callee->getFunctionType() != CB.getFunctionType())
        Flags |= callflags::Cast;
      E.Flags = Flags;
      E.Name = Callee->getName().str();
      if (!Callee->isDeclaration() && Callee->hasLocalLinkage()) {
        E.Kind = CallKind::Defined;
        E.Callee = Callee;
      } else {
        // Another definition may replace a weak one at link time, and a
        // declaration lives in another file or in code without metadata.
        E.Kind = CallKind::External;
        E.Callee = Callee->isDeclaration() ? nullptr : Callee;
      }
      addEdge(N, std::move(E));
      return;
    }
    if (auto *GV = dyn_cast<GlobalValue>(Target)) {
      // An ifunc or an interposable alias: resolved by name at load time.
      E.Kind = CallKind::External;
      E.Flags = Flags;
      E.Name = GV->getName().str();
      addEdge(N, std::move(E));
      return;
    }
    ++NumIndirect;
    E.Kind = CallKind::Indirect;
    if (auto Id = cTypeId(CB)) {
      E.TypeId = *Id;
    } else {
      E.TypeId = E.IRTypeId;
      Flags |= callflags::TypeCoarse;
    }
    E.Flags = Flags;
    addEdge(N, std::move(E));
  }
};

bool isAddressTaken(const Function &F) {
  SmallPtrSet<const Value *, 8> Seen;
  return addressEscapes(&F, Seen);
}

std::string calleeLabel(const CallEdge &E) {
  switch (E.Kind) {
  case CallKind::Defined:
    return E.Callee ? E.Callee->getName().str() : E.Name;
  case CallKind::External:
    return E.Name;
  case CallKind::Indirect: {
    std::string S;
    raw_string_ostream OS(S);
    OS << "<indirect " << ((E.Flags & callflags::TypeCoarse) ? "ir-type " : "type ")
       << format_hex(E.TypeId, 10) << ">";
    return OS.str();
  }
  case CallKind::Asm:
    return "<inline asm>";
  }
  return "";
}

ArrayRef<const Function *> CallGraphInfo::indirectTargets(const CallEdge &E) const {
  if (E.Kind != CallKind::Indirect)
    return {};
  uint64_t Key = (uint64_t((E.Flags & callflags::TypeCoarse) != 0) << 32) | E.TypeId;
  auto It = ByType.find(Key);
  if (It == ByType.end())
    return {};
  return It->second;
}

const Function *CallGraphInfo::resolvedCallee(const CallEdge &E) const {
  if (E.Kind == CallKind::Defined)
    return E.Callee;
  if (E.Kind == CallKind::External && E.Callee && !E.Callee->isInterposable() &&
      !E.Callee->hasAvailableExternallyLinkage() && Nodes.count(E.Callee))
    return E.Callee;
  return nullptr;
}

bool CallGraphInfo::invalidate(Module &, const PreservedAnalyses &PA,
                               ModuleAnalysisManager::Invalidator &) {
  auto PAC = PA.getChecker<CapriCallGraphAnalysis>();
  return !PAC.preserved() && !PAC.preservedSet<AllAnalysesOn<Module>>();
}

CallGraphInfo CapriCallGraphAnalysis::run(Module &M, ModuleAnalysisManager &) {
  CallGraphInfo G;
  CallGraphBuilder(M, G).build();
  return G;
}

static void printLoc(raw_ostream &OS, const DebugLoc &DL) {
  if (!DL)
    return;
  OS << " at " << DL->getFilename() << ":" << DL.getLine();
}

void CallGraphInfo::print(raw_ostream &OS) const {
  OS << "capri call graph (" << (HasTypeIds ? "C type ids" : "IR types only") << ")\n";
  for (const auto &[F, N] : Nodes) {
    OS << "function " << F->getName();
    if (N.AddressTaken)
      OS << " address-taken";
    if (N.Leaf)
      OS << " leaf";
    OS << " type " << (N.TypeCoarse ? "ir:" : "c:") << format_hex(N.TypeId, 10) << "\n";
    for (const CallEdge &E : N.Calls) {
      static const char *Kinds[] = {"defined", "external", "indirect", "asm"};
      OS << "  call " << Kinds[static_cast<int>(E.Kind)] << " " << calleeLabel(E);
      if (E.Flags & callflags::Tail) OS << " tail";
      if (E.Flags & callflags::Invoke) OS << " invoke";
      if (E.Flags & callflags::CallBr) OS << " callbr";
      if (E.Flags & callflags::Codegen) OS << " codegen";
      if (E.Flags & callflags::Cast) OS << " cast";
      if (E.Flags & callflags::MustTail) OS << " musttail";
      if (E.Flags & callflags::ReturnsTwice) OS << " returns-twice";
      printLoc(OS, E.Loc);
      OS << "\n";
      if (E.Kind == CallKind::Indirect) {
        auto Targets = indirectTargets(E);
        if (Targets.empty())
          OS << "    unresolved\n";
        for (const Function *T : Targets)
          OS << "    -> " << T->getName() << "\n";
      }
    }
  }
  for (const AddressReference &R : References)
    OS << "reference " << R.F->getName() << " type " << (R.TypeCoarse ? "ir:" : "c:")
       << format_hex(R.TypeId, 10) << "\n";
}

PreservedAnalyses CapriCallGraphPrinter::run(Module &M, ModuleAnalysisManager &MAM) {
  MAM.getResult<CapriCallGraphAnalysis>(M).print(OS);
  return PreservedAnalyses::all();
}

} // namespace capri
