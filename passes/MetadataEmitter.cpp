//===-- MetadataEmitter.cpp - write the capri record into the module ------===//
#include "MetadataEmitter.h"
#include "CallGraph.h"
#include "CapriOptions.h"
#include "CheckpointPlacement.h"
#include "FrameBound.h"
#include "Pipeline.h"
#include "StackAnalysis.h"
#include "YieldSites.h"

#include "capri_metadata.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/Statistic.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/DebugInfoMetadata.h"
#include "llvm/IR/DerivedTypes.h"
#include "llvm/IR/Function.h"
#include "llvm/IR/GlobalAlias.h"
#include "llvm/IR/GlobalVariable.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/Path.h"
#include "llvm/Transforms/Utils/ModuleUtils.h"

#include <cstring>

using namespace llvm;

#define DEBUG_TYPE "capri-metadata"

STATISTIC(NumRecords, "Metadata records written");
STATISTIC(NumRecordBytes, "Bytes of metadata records written");

namespace capri {

namespace {

/// Little-endian byte buffer.
class ByteWriter {
public:
  std::string Data;
  void u8(uint8_t V) { Data.push_back(static_cast<char>(V)); }
  void u16(uint16_t V) { le(V, 2); }
  void u32(uint32_t V) { le(V, 4); }
  void u64(uint64_t V) { le(V, 8); }
  void bytes(StringRef S) { Data.append(S.data(), S.size()); }
  void pad(size_t Align) {
    while (Data.size() % Align)
      Data.push_back(0);
  }
  size_t size() const { return Data.size(); }

private:
  /// The format is little-endian whatever the host's byte order.
  void le(uint64_t V, unsigned Bytes) {
    for (unsigned I = 0; I < Bytes; ++I)
      Data.push_back(static_cast<char>((V >> (8 * I)) & 0xff));
  }
};

class StringTable {
public:
  StringTable() { Data.push_back('\0'); }
  uint32_t add(StringRef S) {
    if (S.empty())
      return 0;
    auto [It, New] = Offsets.try_emplace(S, static_cast<uint32_t>(Data.size()));
    if (New) {
      Data.append(S.data(), S.size());
      Data.push_back('\0');
    }
    return It->second;
  }
  std::string Data;

private:
  StringMap<uint32_t> Offsets;
};

std::string fileOf(const DIScope *S) {
  if (!S)
    return "";
  return S->getFilename().str();
}

uint8_t linkageOf(const Function &F) {
  if (F.hasLocalLinkage())
    return CAPRI_MD_LINK_INTERNAL;
  if (F.isInterposable() || F.hasLinkOnceLinkage() || F.hasWeakLinkage())
    return CAPRI_MD_LINK_WEAK;
  return CAPRI_MD_LINK_EXTERNAL;
}

uint8_t callKindOf(CallKind K) {
  switch (K) {
  case CallKind::Defined: return CAPRI_MD_CALL_LOCAL;
  case CallKind::External: return CAPRI_MD_CALL_NAMED;
  case CallKind::Indirect: return CAPRI_MD_CALL_INDIRECT;
  case CallKind::Asm: return CAPRI_MD_CALL_ASM;
  }
  return CAPRI_MD_CALL_ASM;
}

static_assert(unsigned(CheckpointReason::Cycle) == CAPRI_MD_CP_CYCLE &&
                  unsigned(CheckpointReason::MaxPath) == CAPRI_MD_CP_MAXPATH &&
                  unsigned(CheckpointReason::CrossFile) == CAPRI_MD_CP_CROSS_FILE &&
                  unsigned(CheckpointReason::External) == CAPRI_MD_CP_EXTERNAL &&
                  unsigned(CheckpointReason::Indirect) == CAPRI_MD_CP_INDIRECT &&
                  unsigned(CheckpointReason::DynamicAlloca) == CAPRI_MD_CP_DYNAMIC_ALLOCA &&
                  unsigned(CheckpointReason::Forced) == CAPRI_MD_CP_FORCED,
              "checkpoint reasons are the format's");

uint64_t mdInt(const MDNode *N, unsigned I) {
  if (!N || I >= N->getNumOperands())
    return 0;
  if (auto *C = mdconst::dyn_extract_or_null<ConstantInt>(N->getOperand(I)))
    return C->getZExtValue();
  return 0;
}

/// The functions that call the runtime for their variable-size allocas'
/// slow paths (the instrumentation's calls), with the helpers each calls:
/// found from the helpers' uses, once per module.
DenseMap<const Function *, SmallVector<StringRef, 2>> vlaHelperCallers(const Module &M) {
  DenseMap<const Function *, SmallVector<StringRef, 2>> Out;
  for (StringRef Name : {"__capri_vla_take", "__capri_vla_release"})
    if (const Function *Helper = M.getFunction(Name))
      for (const User *U : Helper->users())
        if (auto *CB = dyn_cast<CallBase>(U))
          if (CB->getCalledFunction() == Helper) {
            SmallVector<StringRef, 2> &Called = Out[CB->getFunction()];
            if (!is_contained(Called, Name))
              Called.push_back(Name);
          }
  return Out;
}

uint32_t clamp32(uint64_t V) { return static_cast<uint32_t>(std::min<uint64_t>(V, UINT32_MAX)); }

/// What placement charges for a call it cannot see into (a call entry's
/// external_region), and CAPRI_MD_CALLF2_MARK in Flags2 when that is a
/// measured mark rather than the reserve, so readers can tell them apart.
struct ExternalCharge {
  uint32_t Region = 0;
  uint8_t Flags2 = 0;
};

/// A call by name into code without metadata: the measured mark of a
/// library function, else the external reserve.
ExternalCharge namedCharge(StringRef Name) {
  if (auto Mark = libcStackMark(Name))
    return {clamp32(*Mark), CAPRI_MD_CALLF2_MARK};
  return {ExternalReserve, 0};
}

ExternalCharge externalCharge(const CallEdge &E) {
  switch (E.Kind) {
  case CallKind::Defined:
    return {};
  case CallKind::External:
    return namedCharge(E.Name);
  case CallKind::Indirect:
  case CallKind::Asm:
    break;
  }
  return {ExternalReserve, 0};
}

void section(ByteWriter &W, uint32_t Tag, const std::string &Payload) {
  W.u32(Tag);
  W.u32(static_cast<uint32_t>(Payload.size()));
  W.bytes(Payload);
  W.pad(4);
}

/// Adds the passive constructor and destructor: each calls libcapri only
/// when libcapri is linked in (weak reference), and does nothing else.
void addRegistration(Module &M, GlobalVariable *Record) {
  LLVMContext &Ctx = M.getContext();
  Type *Ptr = PointerType::getUnqual(Ctx);
  FunctionType *HookTy = FunctionType::get(Type::getVoidTy(Ctx), {Ptr}, false);
  FunctionType *VoidTy = FunctionType::get(Type::getVoidTy(Ctx), false);

  auto Make = [&](StringRef Name, StringRef Hook) {
    Function *Decl = M.getFunction(Hook);
    if (!Decl)
      Decl = Function::Create(HookTy, GlobalValue::ExternalWeakLinkage, Hook, M);
    Function *F = Function::Create(VoidTy, GlobalValue::InternalLinkage, Name, M);
    F->addFnAttr(Attribute::NoUnwind);
    // Bookkeeping, not program code: no sanitizer or coverage instruments it.
    F->addFnAttr(Attribute::DisableSanitizerInstrumentation);
    F->addFnAttr(Attribute::NoInline);
    BasicBlock *Entry = BasicBlock::Create(Ctx, "entry", F);
    BasicBlock *Call = BasicBlock::Create(Ctx, "register", F);
    BasicBlock *Done = BasicBlock::Create(Ctx, "done", F);
    IRBuilder<> B(Entry);
    B.CreateCondBr(B.CreateIsNotNull(Decl), Call, Done);
    B.SetInsertPoint(Call);
    B.CreateCall(HookTy, Decl, {Record});
    B.CreateBr(Done);
    B.SetInsertPoint(Done);
    B.CreateRetVoid();
    return F;
  };
  // Registration is passive, so it can run first (priority 1, as the
  // sanitizers' constructors do) and unregistration last.
  appendToGlobalCtors(M, Make("capri.module_ctor", "__capri_register_module"), 1);
  appendToGlobalDtors(M, Make("capri.module_dtor", "__capri_unregister_module"), 1);
}

/// The sanitizers that will instrument the module's code: they run after
/// the plugin (at the same extension point, registered later), so the frame
/// estimates only model what they add, and the runtime insists on the
/// backend's sizes for such a module.
uint32_t sanitizersOf(const Module &M) {
  uint32_t Bits = 0;
  for (const Function &F : M) {
    if (F.isDeclaration())
      continue;
    if (F.hasFnAttribute(Attribute::SanitizeAddress))
      Bits |= CAPRI_MD_MODULE_SANITIZE_ADDRESS;
    if (F.hasFnAttribute(Attribute::SanitizeHWAddress))
      Bits |= CAPRI_MD_MODULE_SANITIZE_HWADDRESS;
    if (F.hasFnAttribute(Attribute::SanitizeThread))
      Bits |= CAPRI_MD_MODULE_SANITIZE_THREAD;
    if (F.hasFnAttribute(Attribute::SanitizeMemory))
      Bits |= CAPRI_MD_MODULE_SANITIZE_MEMORY;
  }
  return Bits;
}

/// Site placeholders (YieldSites.cpp) by number.
DenseMap<int64_t, GlobalVariable *> sitePlaceholders(Module &M) {
  DenseMap<int64_t, GlobalVariable *> Out;
  for (GlobalVariable &GV : M.globals()) {
    StringRef Name = GV.getName();
    int64_t N;
    if (Name.consume_front(SitePlaceholderPrefix) && !Name.getAsInteger(10, N))
      Out[N] = &GV;
  }
  return Out;
}

/// Stores whose descriptor has no entry (no record is written, or the call
/// is not a site any more) store null: the word then names no site.
void dropPlaceholders(DenseMap<int64_t, GlobalVariable *> &Placeholders) {
  for (auto &[N, GV] : Placeholders) {
    GV->replaceAllUsesWith(ConstantPointerNull::get(cast<PointerType>(GV->getType())));
    GV->eraseFromParent();
  }
  Placeholders.clear();
}

} // namespace

PreservedAnalyses CapriEmitMetadataPass::run(Module &M, ModuleAnalysisManager &MAM) {
  DenseMap<int64_t, GlobalVariable *> Placeholders = sitePlaceholders(M);
  if (!EmitMetadata || !analysesModule(M, WholeProgram) || M.getNamedGlobal(RecordGlobalName)) {
    // (never twice for the same code)
    if (Placeholders.empty())
      return PreservedAnalyses::all();
    dropPlaceholders(Placeholders);
    return PreservedAnalyses::none();
  }

  const CallGraphInfo &G = MAM.getResult<CapriCallGraphAnalysis>(M);
  const StackAnalysisInfo &SA = MAM.getResult<CapriStackAnalysis>(M);
  auto &FAM = MAM.getResult<FunctionAnalysisManagerModuleProxy>(M).getManager();

  // Functions this object defines (available_externally bodies are copies
  // of definitions that live elsewhere).
  std::vector<const Function *> Functions;
  DenseMap<const Function *, uint32_t> IndexOf;
  for (const auto &[F, N] : G.Nodes) {
    if (F->hasAvailableExternallyLinkage())
      continue;
    IndexOf[F] = static_cast<uint32_t>(Functions.size());
    Functions.push_back(F);
  }

  StringTable Strings;
  ByteWriter FunctionsW, CallsW, RefsW, CheckpointsW, YieldW;
  uint32_t CallCount = 0, CheckpointCount = 0, YieldCount = 0;
  // Placeholder -> index of its site in YIELD_SITES.
  std::vector<std::pair<GlobalVariable *, uint32_t>> SiteAddresses;
  const auto VlaCallers = vlaHelperCallers(M);
  for (const Function *F : Functions) {
    const FunctionNode &N = *G.node(F);
    const FrameBound &FB = FAM.getResult<CapriFrameAnalysis>(const_cast<Function &>(*F));
    const StackInfo *SI = SA.get(F);
    const DISubprogram *SP = F->getSubprogram();

    uint16_t Flags = FB.Flags;
    if (N.AddressTaken) Flags |= CAPRI_MD_FN_ADDRESS_TAKEN;
    if (N.TypeCoarse) Flags |= CAPRI_MD_FN_TYPE_COARSE;
    if (N.Leaf) Flags |= CAPRI_MD_FN_LEAF;
    if (SI && SI->RecursionBound) Flags |= CAPRI_MD_FN_RECURSION_BOUND;

    uint32_t FirstCall = CallCount;
    for (const CallEdge &E : N.Calls) {
      uint32_t Callee = 0;
      if (E.Kind == CallKind::Defined) {
        auto It = IndexOf.find(E.Callee);
        if (It == IndexOf.end()) {
          // A local function with no body here cannot happen; be safe.
          CallsW.u8(CAPRI_MD_CALL_NAMED);
          Callee = Strings.add(E.Callee->getName());
        } else {
          CallsW.u8(CAPRI_MD_CALL_LOCAL);
          Callee = It->second;
        }
      } else {
        CallsW.u8(callKindOf(E.Kind));
        if (E.Kind == CallKind::External)
          Callee = Strings.add(E.Name);
      }
      const ExternalCharge Charge = externalCharge(E);
      CallsW.u8(E.Flags); // callflags are the format's bits
      CallsW.u8(Charge.Flags2);
      CallsW.u8(0);
      CallsW.u32(Callee);
      CallsW.u32(E.Kind == CallKind::Indirect ? E.TypeId : 0);
      CallsW.u32(E.IRTypeId);
      CallsW.u32(E.Loc ? Strings.add(E.Loc->getFilename()) : 0);
      CallsW.u32(E.Loc ? E.Loc.getLine() : 0);
      CallsW.u32(Charge.Region);
      // The instrumented sites of this edge, when all of them are: a reader
      // takes a call listed in CHECKPOINTS for checked, so an edge with an
      // unchecked site lists none (its checked sites keep the plugin's
      // bounds, which is safe).
      bool AllChecked = !E.Sites.empty() && all_of(E.Sites, [](const Instruction *I) {
        return I->getMetadata("capri.checkpoint") != nullptr;
      });
      for (const Instruction *I : AllChecked ? E.Sites : ArrayRef<const Instruction *>()) {
        const MDNode *CP = I->getMetadata("capri.checkpoint");
        int64_t Bound = static_cast<int32_t>(mdInt(CP, 2));
        CheckpointsW.u32(IndexOf.lookup(F));
        CheckpointsW.u32(CallCount);
        CheckpointsW.u8(static_cast<uint8_t>(mdInt(CP, 0)));
        CheckpointsW.u8(Bound < 0 ? CAPRI_MD_CPF_SMALL : 0);
        CheckpointsW.u16(0);
        CheckpointsW.u32(clamp32(mdInt(CP, 1)));
        CheckpointsW.u32(Bound < 0 ? CAPRI_MD_NO_BOUND : static_cast<uint32_t>(Bound));
        CheckpointsW.u32(clamp32(mdInt(CP, 3)));
        const DebugLoc &DL = I->getDebugLoc();
        CheckpointsW.u32(DL ? DL.getLine() : 0);
        ++CheckpointCount;
      }
      // The yield sites of this edge (YieldSites.cpp marked them).
      for (const Instruction *I : E.Sites) {
        const MDNode *YS = I->getMetadata(YieldSiteMD);
        if (!YS || YS->getNumOperands() < 8)
          continue;
        auto Str = [&](unsigned Op) {
          auto *S = dyn_cast<MDString>(YS->getOperand(Op));
          return S ? S->getString() : StringRef();
        };
        const DebugLoc &DL = I->getDebugLoc();
        int64_t Placeholder = -1;
        if (auto *C = mdconst::dyn_extract_or_null<ConstantInt>(YS->getOperand(7)))
          Placeholder = C->getSExtValue();
        uint8_t YFlags = static_cast<uint8_t>(mdInt(YS, 1));
        GlobalVariable *P = Placeholder >= 0 ? Placeholders.lookup(Placeholder) : nullptr;
        if (P) {
          SiteAddresses.push_back({P, YieldCount});
          Placeholders.erase(Placeholder);
        } else {
          YFlags &= ~CAPRI_MD_YSF_STORED;
        }
        YieldW.u32(IndexOf.lookup(F));
        YieldW.u32(CallCount);
        YieldW.u8(static_cast<uint8_t>(mdInt(YS, 0)));
        YieldW.u8(YFlags);
        YieldW.u16(0);
        YieldW.u32(DL ? Strings.add(DL->getFilename()) : 0);
        YieldW.u32(DL ? DL.getLine() : 0);
        YieldW.u32(DL ? DL.getCol() : 0);
        YieldW.u32(clamp32(mdInt(YS, 3)));
        YieldW.u32(clamp32(mdInt(YS, 4)));
        YieldW.u32(Strings.add(Str(2)));
        YieldW.u32(clamp32(mdInt(YS, 5)));
        YieldW.u32(Strings.add(Str(6)));
        ++YieldCount;
      }
      ++CallCount;
    }
    // The slow paths of variable-size allocas call into libcapri on what
    // is left of the chunk; placement charged those calls to the region
    // (code-generation calls), but the graph leaves them out, and the
    // start-up rewrite rebuilds regions from these lists: listed here.
    for (StringRef Helper : VlaCallers.lookup(F)) {
      const ExternalCharge Charge = namedCharge(Helper);
      CallsW.u8(CAPRI_MD_CALL_NAMED);
      CallsW.u8(callflags::Codegen);
      CallsW.u8(Charge.Flags2);
      CallsW.u8(0);
      CallsW.u32(Strings.add(Helper));
      CallsW.u32(0);
      CallsW.u32(0);
      CallsW.u32(Strings.add(fileOf(SP)));
      CallsW.u32(SP ? SP->getLine() : 0);
      CallsW.u32(Charge.Region);
      ++CallCount;
    }

    FunctionsW.u32(Strings.add(F->getName()));
    FunctionsW.u32(Strings.add(fileOf(SP)));
    FunctionsW.u32(SP ? SP->getLine() : 0);
    FunctionsW.u8(linkageOf(*F));
    FunctionsW.u8(static_cast<uint8_t>(Log2_32(FB.MaxAlign)));
    FunctionsW.u16(Flags);
    FunctionsW.u32(static_cast<uint32_t>(std::min<uint64_t>(FB.Total, UINT32_MAX)));
    FunctionsW.u32(static_cast<uint32_t>(std::min<uint64_t>(FB.Allocas, UINT32_MAX)));
    FunctionsW.u32(static_cast<uint32_t>(std::min<uint64_t>(FB.Spills, UINT32_MAX)));
    FunctionsW.u32(N.TypeId);
    FunctionsW.u32(N.IRTypeId);
    FunctionsW.u32(FirstCall);
    FunctionsW.u32(CallCount - FirstCall);
    FunctionsW.u32(SI ? SI->RecursionBound : 0);
    FunctionsW.u32(clamp32(mdInt(F->getMetadata("capri.entry_region"), 0)));
  }
  uint32_t RefCount = 0;
  for (const AddressReference &R : G.References) {
    RefsW.u32(Strings.add(R.F->getName()));
    RefsW.u32(R.TypeId);
    RefsW.u32(R.IRTypeId);
    RefsW.u32(R.TypeCoarse ? CAPRI_MD_FN_TYPE_COARSE : 0);
    ++RefCount;
  }

  // Other names of defined functions, so calls by those names link.
  ByteWriter AliasesW;
  uint32_t AliasCount = 0;
  for (const GlobalAlias &GA : M.aliases()) {
    auto *Target = dyn_cast_or_null<Function>(GA.getAliaseeObject());
    auto It = Target ? IndexOf.find(Target) : IndexOf.end();
    if (It == IndexOf.end())
      continue;
    AliasesW.u32(Strings.add(GA.getName()));
    AliasesW.u32(It->second);
    AliasesW.u8(GA.hasLocalLinkage() ? CAPRI_MD_LINK_INTERNAL
                : GA.isInterposable() || GA.hasLinkOnceLinkage() || GA.hasWeakLinkage()
                    ? CAPRI_MD_LINK_WEAK
                    : CAPRI_MD_LINK_EXTERNAL);
    AliasesW.u8(0);
    AliasesW.u16(0);
    ++AliasCount;
  }

  ByteWriter ModuleW;
  ModuleW.u32(Strings.add(M.getSourceFileName()));
  ModuleW.u32(Strings.add("capri 0.1 (LLVM " LLVM_VERSION_STRING ")"));
  ModuleW.u32(Strings.add(M.getTargetTriple()));
  ModuleW.u32(0);

  auto Table = [](uint32_t EntrySize, uint32_t Count, const std::string &Entries) {
    ByteWriter W;
    W.u32(EntrySize);
    W.u32(Count);
    W.bytes(Entries);
    return W.Data;
  };
  ByteWriter Body;
  section(Body, CAPRI_MD_TAG_STRINGS, Strings.Data);
  section(Body, CAPRI_MD_TAG_MODULE, ModuleW.Data);
  section(Body, CAPRI_MD_TAG_FUNCTIONS,
          Table(sizeof(capri_md_function_entry), Functions.size(), FunctionsW.Data));
  section(Body, CAPRI_MD_TAG_CALLS, Table(sizeof(capri_md_call_entry), CallCount, CallsW.Data));
  if (RefCount)
    section(Body, CAPRI_MD_TAG_REFERENCES,
            Table(sizeof(capri_md_reference_entry), RefCount, RefsW.Data));
  if (AliasCount)
    section(Body, CAPRI_MD_TAG_ALIASES,
            Table(sizeof(capri_md_alias_entry), AliasCount, AliasesW.Data));
  if (CheckpointCount)
    section(Body, CAPRI_MD_TAG_CHECKPOINTS,
            Table(sizeof(capri_md_checkpoint_entry), CheckpointCount, CheckpointsW.Data));
  // The first yield-site entry's offset in Body: after the section's
  // header (tag, size) and the table's (entry_size, count).
  const uint64_t YieldEntries = Body.size() + 16;
  static_assert(sizeof(capri_md_yield_site_entry) == 44, "the format's entry");
  if (YieldCount)
    section(Body, CAPRI_MD_TAG_YIELD_SITES,
            Table(sizeof(capri_md_yield_site_entry), YieldCount, YieldW.Data));
  Body.pad(CAPRI_MD_ALIGN);

  assert(M.getDataLayout().getPointerSize() == 8 && "checked by the pipeline");
  uint32_t RecordSize = CAPRI_MD_HEADER_SIZE + 8 * Functions.size() + Body.size();
  uint32_t ModuleFlags = 0;
  if (WholeProgram) ModuleFlags |= CAPRI_MD_MODULE_LTO;
  if (!G.HasTypeIds) ModuleFlags |= CAPRI_MD_MODULE_TYPES_COARSE;
  ModuleFlags |= sanitizersOf(M);
  if (M.getModuleFlag("capri.yield_sites"))
    ModuleFlags |= CAPRI_MD_MODULE_YIELD_SITES;
  ByteWriter Header;
  Header.u32(CAPRI_MD_MAGIC);
  Header.u16(CAPRI_MD_VERSION_MAJOR);
  Header.u16(CAPRI_MD_VERSION_MINOR);
  Header.u32(RecordSize);
  Header.u32(CAPRI_MD_HEADER_SIZE);
  Header.u32(ModuleFlags);
  Header.u32(static_cast<uint32_t>(Functions.size()));
  Header.u64(0);
  assert(Header.size() == offsetof(capri_md_header, bounds_table));
  // The bounds table's address is relocated like the function addresses.
  GlobalVariable *Bounds = M.getNamedGlobal(BoundsTableName);
  ByteWriter BoundsInfo;
  BoundsInfo.u32(Bounds ? static_cast<uint32_t>(
                              cast<ArrayType>(Bounds->getValueType())->getNumElements())
                        : 0);
  BoundsInfo.u32(Slack);

  // <{ [48 x i8] header, [n x ptr] addresses, [k x i8] sections }>
  LLVMContext &Ctx = M.getContext();
  Type *Ptr = PointerType::getUnqual(Ctx);
  std::vector<Constant *> Addresses;
  for (const Function *F : Functions) {
    // A function in a COMDAT group may be discarded with its group by the
    // linker (C++ inline variables' initialisers, templates); a reference
    // from the record would then break the link. Such functions have no
    // address slot (zero): readers match them by name, or use the estimate.
    if (F->hasComdat())
      Addresses.push_back(ConstantPointerNull::get(PointerType::getUnqual(M.getContext())));
    else
      Addresses.push_back(const_cast<Function *>(F));
  }
  Constant *Parts[] = {
      ConstantDataArray::getRaw(Header.Data, Header.size(), Type::getInt8Ty(Ctx)),
      Bounds ? static_cast<Constant *>(Bounds) : ConstantPointerNull::get(PointerType::getUnqual(Ctx)),
      ConstantDataArray::getRaw(BoundsInfo.Data, BoundsInfo.size(), Type::getInt8Ty(Ctx)),
      ConstantArray::get(ArrayType::get(Ptr, Addresses.size()), Addresses),
      ConstantDataArray::getRaw(Body.Data, Body.size(), Type::getInt8Ty(Ctx)),
  };
  Constant *Init = ConstantStruct::getAnon(Ctx, Parts, /*Packed=*/true);
  auto *Record = new GlobalVariable(M, Init->getType(), /*isConstant=*/false,
                                    GlobalValue::InternalLinkage, Init, RecordGlobalName);
  Record->setSection(CAPRI_MD_SECTION);
  Record->setAlignment(Align(CAPRI_MD_ALIGN));
  appendToUsed(M, {Record});
  addRegistration(M, Record);

  // Each stored site's placeholder becomes the address of its entry.
  const uint64_t BodyOffset = CAPRI_MD_HEADER_SIZE + 8 * Functions.size();
  for (auto [P, Index] : SiteAddresses) {
    uint64_t Offset = BodyOffset + YieldEntries + uint64_t(Index) * sizeof(capri_md_yield_site_entry);
    Constant *Addr = ConstantExpr::getInBoundsGetElementPtr(
        Type::getInt8Ty(Ctx), Record, ConstantInt::get(Type::getInt64Ty(Ctx), Offset));
    P->replaceAllUsesWith(Addr);
    P->eraseFromParent();
  }
  dropPlaceholders(Placeholders);

  ++NumRecords;
  NumRecordBytes += RecordSize;
  return PreservedAnalyses::none();
}

} // namespace capri
