//===-- Lowering.cpp - calls that code generation introduces --------------===//
#include "Lowering.h"
#include "FrameBound.h"

#include "llvm/IR/Constants.h"
#include "llvm/IR/Function.h"
#include "llvm/IR/GlobalVariable.h"
#include "llvm/IR/InstIterator.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/IntrinsicInst.h"
#include "llvm/IR/Module.h"

using namespace llvm;

namespace capri {

namespace {

/// The libm name of a floating-point function for the type it works on.
std::string mathName(StringRef Base, Type *T) {
  if (auto *VT = dyn_cast<VectorType>(T))
    T = VT->getElementType();
  if (T->isFloatTy())
    return (Base + "f").str();
  if (T->isX86_FP80Ty() || T->isFP128Ty())
    return (Base + "l").str();
  return Base.str();
}

bool hasFeature(const Function &F, StringRef Feature) {
  Attribute A = F.getFnAttribute("target-features");
  return A.isValid() && A.getValueAsString().contains(Feature);
}

} // namespace

Libcall intrinsicLibcall(const IntrinsicInst &II, const Function &Caller) {
  Type *T = II.getType();
  auto Unary = [&](StringRef Base) { return Libcall{mathName(Base, T), true}; };
  switch (II.getIntrinsicID()) {
  case Intrinsic::memcpy:
  case Intrinsic::memmove:
  case Intrinsic::memset: {
    // Small constant sizes are expanded inline: FastISel up to 32 bytes at
    // -O0, SelectionDAG up to a few stores otherwise.
    uint64_t Inline = Caller.hasOptNone() ? 32 : Caller.hasOptSize() ? 64 : 128;
    auto *Len = dyn_cast<ConstantInt>(II.getArgOperand(2));
    if (Len && Len->getZExtValue() <= Inline)
      return {};
    return {II.getIntrinsicID() == Intrinsic::memcpy    ? "memcpy"
            : II.getIntrinsicID() == Intrinsic::memmove ? "memmove"
                                                        : "memset",
            /*Certain=*/Len == nullptr};
  }
  case Intrinsic::floor:
  case Intrinsic::ceil:
  case Intrinsic::trunc:
  case Intrinsic::rint:
  case Intrinsic::nearbyint:
    // SSE4.1 has roundss/roundsd; the x86-64 baseline does not.
    if (hasFeature(Caller, "+sse4.1") && !T->isX86_FP80Ty())
      return {};
    switch (II.getIntrinsicID()) {
    case Intrinsic::floor: return Unary("floor");
    case Intrinsic::ceil: return Unary("ceil");
    case Intrinsic::trunc: return Unary("trunc");
    case Intrinsic::rint: return Unary("rint");
    default: return Unary("nearbyint");
    }
  case Intrinsic::round: return Unary("round");
  case Intrinsic::roundeven: return Unary("roundeven");
  case Intrinsic::sin: return Unary("sin");
  case Intrinsic::cos: return Unary("cos");
  case Intrinsic::tan: return Unary("tan");
  case Intrinsic::pow: return Unary("pow");
  case Intrinsic::exp: return Unary("exp");
  case Intrinsic::exp2: return Unary("exp2");
  case Intrinsic::exp10: return Unary("exp10");
  case Intrinsic::log: return Unary("log");
  case Intrinsic::log2: return Unary("log2");
  case Intrinsic::log10: return Unary("log10");
  case Intrinsic::ldexp: return Unary("ldexp");
  case Intrinsic::frexp: return {mathName("frexp", II.getArgOperand(0)->getType()), true};
  case Intrinsic::lround:
  case Intrinsic::llround:
    return {mathName(II.getIntrinsicID() == Intrinsic::lround ? "lround" : "llround",
                     II.getArgOperand(0)->getType()),
            true};
  case Intrinsic::fma:
    if (hasFeature(Caller, "+fma") && !T->isX86_FP80Ty())
      return {};
    return Unary("fma");
  case Intrinsic::powi:
    return {T->isFloatTy() ? "__powisf2" : T->isX86_FP80Ty() ? "__powixf2" : "__powidf2", true};
  case Intrinsic::clear_cache:
    return {"__clear_cache", true};
  default:
    return {};
  }
}

Libcall instructionLibcall(const Instruction &I) {
  Type *T = I.getType();
  auto IsWide = [](Type *Ty) {
    Ty = Ty->getScalarType();
    return Ty->isIntegerTy() && Ty->getIntegerBitWidth() > 64;
  };
  auto Call = [](const char *Name) { return Libcall{Name, true}; };
  switch (I.getOpcode()) {
  case Instruction::SDiv: return IsWide(T) ? Call("__divti3") : Libcall{};
  case Instruction::UDiv: return IsWide(T) ? Call("__udivti3") : Libcall{};
  case Instruction::SRem: return IsWide(T) ? Call("__modti3") : Libcall{};
  case Instruction::URem: return IsWide(T) ? Call("__umodti3") : Libcall{};
  case Instruction::FRem: return {mathName("fmod", T), true};
  case Instruction::FPToSI:
  case Instruction::FPToUI:
    return IsWide(T) ? Call(I.getOpcode() == Instruction::FPToSI ? "__fixdfti" : "__fixunsdfti")
                     : Libcall{};
  case Instruction::SIToFP:
  case Instruction::UIToFP:
    return IsWide(I.getOperand(0)->getType())
               ? Call(I.getOpcode() == Instruction::SIToFP ? "__floattidf" : "__floatuntidf")
               : Libcall{};
  default:
    return {};
  }
}

/// Whether code generation reaches a thread-local variable through
/// __tls_get_addr: the general- and local-dynamic models, which clang uses
/// for position-independent code that is not an executable.
namespace {

bool needsTlsGetAddr(const GlobalVariable &GV, const Module &M) {
  if (!GV.isThreadLocal())
    return false;
  if (M.getPICLevel() == PICLevel::NotPIC || M.getPIELevel() != PIELevel::Default)
    return false;
  auto Mode = GV.getThreadLocalMode();
  return Mode == GlobalValue::GeneralDynamicTLSModel ||
         Mode == GlobalValue::LocalDynamicTLSModel;
}

} // namespace

bool usesTlsGetAddr(const Instruction &I, const Module &M) {
  for (const Use &Op : I.operands())
    if (auto *GV = dyn_cast<GlobalVariable>(Op->stripPointerCasts()))
      if (needsTlsGetAddr(*GV, M))
        return true;
  return false;
}

namespace {

/// Arrays (or structs holding arrays) are what the stack protector guards;
/// Large: an array of chars at least the protector's buffer size.
void protectableArray(Type *T, unsigned BufferSize, bool &Any, bool &Large, unsigned Depth = 0) {
  if (Depth > 8)
    return;
  if (auto *AT = dyn_cast<ArrayType>(T)) {
    Any = true;
    if (AT->getElementType()->isIntegerTy(8) && AT->getNumElements() >= BufferSize)
      Large = true;
    protectableArray(AT->getElementType(), BufferSize, Any, Large, Depth + 1);
    return;
  }
  if (auto *ST = dyn_cast<StructType>(T))
    for (Type *E : ST->elements())
      protectableArray(E, BufferSize, Any, Large, Depth + 1);
}

/// Whether a stack object's address may escape (the strong protector
/// guards such objects); approximate, so only ever a "Possible".
bool addressMayEscape(const AllocaInst &AI) {
  for (const User *U : AI.users()) {
    if (auto *LI = dyn_cast<LoadInst>(U)) {
      (void)LI;
      continue;
    }
    if (auto *SI = dyn_cast<StoreInst>(U)) {
      if (SI->getValueOperand() == &AI)
        return true;
      continue;
    }
    if (auto *II = dyn_cast<IntrinsicInst>(U))
      if (II->isLifetimeStartOrEnd())
        continue;
    return true;
  }
  return false;
}

/// A call in tail position (followed by a return of its result or of
/// nothing) may be emitted as a jump, after the frame is gone.
bool inTailPosition(const CallBase &CB) {
  auto *CI = dyn_cast<CallInst>(&CB);
  if (!CI || !CI->isTailCall())
    return false;
  // Markers that emit no code (lifetime ends, assumptions) may follow.
  const Instruction *Next = CI->getNextNonDebugInstruction();
  while (Next && isa<IntrinsicInst>(Next) && cast<IntrinsicInst>(Next)->isAssumeLikeIntrinsic())
    Next = Next->getNextNonDebugInstruction();
  auto *Ret = dyn_cast_or_null<ReturnInst>(Next);
  return Ret && (!Ret->getReturnValue() || Ret->getReturnValue() == CI);
}

bool instrumentsAccesses(const Function &F) {
  return F.hasFnAttribute(Attribute::SanitizeAddress) ||
         F.hasFnAttribute(Attribute::SanitizeThread) ||
         F.hasFnAttribute(Attribute::SanitizeMemory) ||
         F.hasFnAttribute(Attribute::SanitizeHWAddress);
}

} // namespace

MachineCalls stackProtectorCall(const Function &F) {
  bool Strong = F.hasFnAttribute(Attribute::StackProtectStrong);
  if (F.hasFnAttribute(Attribute::StackProtectReq))
    return MachineCalls::Definite;
  if (!Strong && !F.hasFnAttribute(Attribute::StackProtect))
    return MachineCalls::None;
  unsigned BufferSize = 8;
  Attribute B = F.getFnAttribute("stack-protector-buffer-size");
  if (B.isValid())
    B.getValueAsString().getAsInteger(10, BufferSize);
  MachineCalls Need = MachineCalls::None;
  for (const Instruction &I : instructions(F)) {
    auto *AI = dyn_cast<AllocaInst>(&I);
    if (!AI)
      continue;
    if (!AI->isStaticAlloca() || AI->isArrayAllocation())
      return MachineCalls::Definite; // variable-sized objects are always guarded
    bool Any = false, Large = false;
    protectableArray(AI->getAllocatedType(), BufferSize, Any, Large);
    if (Large || (Strong && Any))
      return MachineCalls::Definite;
    if (Any || (Strong && addressMayEscape(*AI)))
      Need = MachineCalls::Possible;
  }
  return Need;
}

std::string sanitizerRuntimeCall(const Function &F) {
  bool Accesses = false;
  for (const Instruction &I : instructions(F))
    if (I.mayReadOrWriteMemory() && !isa<CallBase>(I)) {
      Accesses = true;
      break;
    }
  if (F.hasFnAttribute(Attribute::SanitizeThread))
    return "__tsan_func_entry";
  if (!Accesses)
    return "";
  if (F.hasFnAttribute(Attribute::SanitizeAddress))
    return "__asan_report_load_n";
  if (F.hasFnAttribute(Attribute::SanitizeMemory))
    return "__msan_warning_noreturn";
  if (F.hasFnAttribute(Attribute::SanitizeHWAddress))
    return "__hwasan_loadN";
  return "";
}

MachineCalls machineCalls(const Function &F) {
  const Module &M = *F.getParent();
  MachineCalls Result = MachineCalls::None;
  auto Note = [&](MachineCalls C) { Result = std::max(Result, C); };
  for (const Instruction &I : instructions(F)) {
    if (usesTlsGetAddr(I, M))
      return MachineCalls::Definite;
    if (auto *CB = dyn_cast<CallBase>(&I)) {
      if (isRealCall(*CB)) {
        if (!inTailPosition(*CB))
          return MachineCalls::Definite;
        Note(MachineCalls::Possible);
      } else if (auto *II = dyn_cast<IntrinsicInst>(CB)) {
        Libcall L = intrinsicLibcall(*II, F);
        if (L.Certain)
          return MachineCalls::Definite;
        if (!L.Name.empty())
          Note(MachineCalls::Possible);
      }
      continue;
    }
    if (instructionLibcall(I).Certain)
      return MachineCalls::Definite;
  }
  Note(stackProtectorCall(F));
  if (instrumentsAccesses(F) && !sanitizerRuntimeCall(F).empty())
    Note(MachineCalls::Possible);
  return Result;
}

} // namespace capri
