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

/// Intrinsics x86-64 code generation expands inline (or that emit no code).
bool isInlineIntrinsic(const IntrinsicInst &II) {
  StringRef Name = II.getCalledFunction()->getName();
  if (Name.starts_with("llvm.x86.") || Name.starts_with("llvm.dbg.") ||
      Name.starts_with("llvm.vector.reduce.") || Name.starts_with("llvm.experimental.noalias") ||
      Name.starts_with("llvm.lifetime.") || Name.starts_with("llvm.invariant.") ||
      Name.starts_with("llvm.var.annotation") || Name.starts_with("llvm.ptr.annotation") ||
      Name.starts_with("llvm.masked.") || Name.starts_with("llvm.eh.typeid.for"))
    return true;
  switch (II.getIntrinsicID()) {
  case Intrinsic::assume:
  case Intrinsic::expect:
  case Intrinsic::expect_with_probability:
  case Intrinsic::annotation:
  case Intrinsic::stacksave:
  case Intrinsic::stackrestore:
  case Intrinsic::stackprotector:
  case Intrinsic::memcpy_inline:
  case Intrinsic::memset_inline:
  case Intrinsic::fabs:
  case Intrinsic::copysign:
  case Intrinsic::minnum:
  case Intrinsic::maxnum:
  case Intrinsic::minimum:
  case Intrinsic::maximum:
  case Intrinsic::sqrt:
  case Intrinsic::fmuladd:
  case Intrinsic::canonicalize:
  case Intrinsic::is_fpclass:
  case Intrinsic::lrint:
  case Intrinsic::llrint:
  case Intrinsic::ctpop:
  case Intrinsic::ctlz:
  case Intrinsic::cttz:
  case Intrinsic::bswap:
  case Intrinsic::bitreverse:
  case Intrinsic::fshl:
  case Intrinsic::fshr:
  case Intrinsic::abs:
  case Intrinsic::smin:
  case Intrinsic::smax:
  case Intrinsic::umin:
  case Intrinsic::umax:
  case Intrinsic::sadd_with_overflow:
  case Intrinsic::uadd_with_overflow:
  case Intrinsic::ssub_with_overflow:
  case Intrinsic::usub_with_overflow:
  case Intrinsic::sadd_sat:
  case Intrinsic::uadd_sat:
  case Intrinsic::ssub_sat:
  case Intrinsic::usub_sat:
  case Intrinsic::objectsize:
  case Intrinsic::is_constant:
  case Intrinsic::prefetch:
  case Intrinsic::trap:
  case Intrinsic::debugtrap:
  case Intrinsic::ubsantrap:
  case Intrinsic::vastart:
  case Intrinsic::vaend:
  case Intrinsic::vacopy:
  case Intrinsic::threadlocal_address:
  case Intrinsic::launder_invariant_group:
  case Intrinsic::strip_invariant_group:
  case Intrinsic::ptrmask:
  case Intrinsic::pseudoprobe:
  case Intrinsic::returnaddress:
  case Intrinsic::frameaddress:
  case Intrinsic::sponentry:
  case Intrinsic::read_register:
  case Intrinsic::write_register:
  case Intrinsic::readcyclecounter:
  case Intrinsic::donothing:
  case Intrinsic::sideeffect:
  case Intrinsic::codeview_annotation:
  case Intrinsic::experimental_widenable_condition:
  case Intrinsic::allow_runtime_check:
  case Intrinsic::allow_ubsan_check:
  case Intrinsic::get_active_lane_mask:
  case Intrinsic::vector_extract:
  case Intrinsic::vector_insert:
  case Intrinsic::vector_reverse:
  case Intrinsic::vector_splice:
  case Intrinsic::vector_deinterleave2:
  case Intrinsic::vector_interleave2:
  case Intrinsic::experimental_constrained_fadd:
  case Intrinsic::experimental_constrained_fsub:
  case Intrinsic::experimental_constrained_fmul:
  case Intrinsic::experimental_constrained_fdiv:
  case Intrinsic::experimental_constrained_sqrt:
  case Intrinsic::experimental_constrained_fcmp:
  case Intrinsic::experimental_constrained_fcmps:
  case Intrinsic::experimental_constrained_fptosi:
  case Intrinsic::experimental_constrained_sitofp:
  case Intrinsic::experimental_constrained_fpext:
  case Intrinsic::experimental_constrained_fptrunc:
  case Intrinsic::get_rounding:
  case Intrinsic::set_rounding:
    return true;
  default:
    return false;
  }
}

} // namespace

Libcall intrinsicLibcall(const IntrinsicInst &II, const Function &Caller) {
  Type *T = II.getType();
  auto Unary = [&](StringRef Base) { return Libcall{mathName(Base, T), true}; };
  switch (II.getIntrinsicID()) {
  case Intrinsic::memcpy:
  case Intrinsic::memmove:
  case Intrinsic::memset: {
    // Small constant sizes are expanded inline: at -O0 FastISel expands
    // copies up to 32 bytes (and calls memset for any size), otherwise
    // SelectionDAG up to a few stores.
    bool IsMemset = II.getIntrinsicID() == Intrinsic::memset;
    uint64_t Inline = Caller.hasOptNone() ? (IsMemset ? 0 : 32) : Caller.hasOptSize() ? 64 : 128;
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
  case Intrinsic::asin: return Unary("asin");
  case Intrinsic::acos: return Unary("acos");
  case Intrinsic::atan: return Unary("atan");
  case Intrinsic::sinh: return Unary("sinh");
  case Intrinsic::cosh: return Unary("cosh");
  case Intrinsic::tanh: return Unary("tanh");
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
  case Intrinsic::smul_with_overflow:
  case Intrinsic::umul_with_overflow: {
    Type *Op = II.getArgOperand(0)->getType()->getScalarType();
    if (Op->isIntegerTy() && Op->getIntegerBitWidth() > 64)
      return {II.getIntrinsicID() == Intrinsic::smul_with_overflow ? "__muloti4" : "__multi3",
              true};
    return {};
  }
  default:
    if (isInlineIntrinsic(II))
      return {};
    // An intrinsic this model does not know may be lowered to a call:
    // charge it as one, under its own name, and keep the function a
    // possible leaf.
    return {II.getCalledFunction()->getName().str(), false};
  }
}

Libcall instructionLibcall(const Instruction &I) {
  Type *T = I.getType();
  auto IsWide = [](Type *Ty) {
    Ty = Ty->getScalarType();
    return Ty->isIntegerTy() && Ty->getIntegerBitWidth() > 64;
  };
  // Helpers are named by the floating-point type: sf, df, xf (x87), tf.
  auto FloatSuffix = [](Type *Ty) {
    Ty = Ty->getScalarType();
    return Ty->isFloatTy() ? "sf" : Ty->isX86_FP80Ty() ? "xf" : Ty->isFP128Ty() ? "tf" : "df";
  };
  auto Call = [](std::string Name) { return Libcall{std::move(Name), true}; };
  // Arithmetic on __float128 and half has no x86-64 instruction.
  bool SoftFloat = T->getScalarType()->isFP128Ty() || T->getScalarType()->isHalfTy() ||
                   T->getScalarType()->isBFloatTy();
  switch (I.getOpcode()) {
  case Instruction::SDiv: return IsWide(T) ? Call("__divti3") : Libcall{};
  case Instruction::UDiv: return IsWide(T) ? Call("__udivti3") : Libcall{};
  case Instruction::SRem: return IsWide(T) ? Call("__modti3") : Libcall{};
  case Instruction::URem: return IsWide(T) ? Call("__umodti3") : Libcall{};
  case Instruction::FRem: return {mathName("fmod", T), true};
  case Instruction::FAdd: return SoftFloat ? Call("__addtf3") : Libcall{};
  case Instruction::FSub: return SoftFloat ? Call("__subtf3") : Libcall{};
  case Instruction::FMul: return SoftFloat ? Call("__multf3") : Libcall{};
  case Instruction::FDiv: return SoftFloat ? Call("__divtf3") : Libcall{};
  case Instruction::FCmp:
    return I.getOperand(0)->getType()->getScalarType()->isFP128Ty() ? Call("__cmptf2")
                                                                     : Libcall{};
  case Instruction::FPTrunc:
  case Instruction::FPExt: {
    Type *From = I.getOperand(0)->getType()->getScalarType();
    if (From->isFP128Ty() || T->getScalarType()->isFP128Ty() || From->isHalfTy() ||
        T->getScalarType()->isHalfTy())
      return Call(I.getOpcode() == Instruction::FPExt ? "__extendsftf2" : "__trunctfsf2");
    return {};
  }
  case Instruction::FPToSI:
  case Instruction::FPToUI: {
    Type *From = I.getOperand(0)->getType();
    if (!IsWide(T) && !From->getScalarType()->isFP128Ty())
      return {};
    return Call(std::string(I.getOpcode() == Instruction::FPToSI ? "__fix" : "__fixuns") +
                FloatSuffix(From) + (IsWide(T) ? "ti" : "di"));
  }
  case Instruction::SIToFP:
  case Instruction::UIToFP:
    if (!IsWide(I.getOperand(0)->getType()) && !T->getScalarType()->isFP128Ty())
      return {};
    return Call(std::string(I.getOpcode() == Instruction::SIToFP ? "__float" : "__floatun") +
                (IsWide(I.getOperand(0)->getType()) ? "ti" : "di") + FloatSuffix(T));
  case Instruction::Resume:
    return Call("_Unwind_Resume"); // C++ exception cleanups
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
    if (isa<LoadInst>(U))
      continue;
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

std::string profilingCall(const Function &F) {
  for (const char *Attr : {"instrument-function-entry", "instrument-function-entry-inlined"}) {
    Attribute A = F.getFnAttribute(Attr);
    if (A.isValid())
      return A.getValueAsString().str(); // mcount, __cyg_profile_func_enter, ...
  }
  if (F.getFnAttribute("fentry-call").getValueAsString() == "true")
    return "__fentry__";
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
  if (!profilingCall(F).empty())
    return MachineCalls::Definite;
  Note(stackProtectorCall(F));
  if (instrumentsAccesses(F) && !sanitizerRuntimeCall(F).empty())
    Note(MachineCalls::Possible);
  return Result;
}

} // namespace capri
