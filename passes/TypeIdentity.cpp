//===-- TypeIdentity.cpp - C-level type identity of functions and calls ---===//
#include "TypeIdentity.h"
#include "Pipeline.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/Statistic.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/DerivedTypes.h"
#include "llvm/IR/Function.h"
#include "llvm/IR/InstIterator.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Metadata.h"
#include "llvm/IR/Module.h"

using namespace llvm;

#define DEBUG_TYPE "capri-type-ids"

STATISTIC(NumFunctionIds, "Functions whose KCFI type hash became capri's");
STATISTIC(NumCallIds, "Indirect calls whose KCFI check became capri's type id");

namespace capri {

namespace {

/// FNV-1a, 32 bits: small, stable across hosts and runs.
struct Fnv1a {
  uint32_t H = 2166136261u;
  void add(uint32_t V) {
    for (int I = 0; I < 4; ++I) {
      H ^= (V >> (8 * I)) & 0xff;
      H *= 16777619u;
    }
  }
};

void hashType(Fnv1a &F, const Type *T, unsigned Depth) {
  F.add(T->getTypeID());
  if (Depth > 8) // struct types can be recursive; the prefix is enough
    return;
  switch (T->getTypeID()) {
  case Type::IntegerTyID:
    F.add(cast<IntegerType>(T)->getBitWidth());
    break;
  case Type::PointerTyID:
    F.add(cast<PointerType>(T)->getAddressSpace());
    break;
  case Type::ArrayTyID:
    F.add(static_cast<uint32_t>(cast<ArrayType>(T)->getNumElements()));
    hashType(F, cast<ArrayType>(T)->getElementType(), Depth + 1);
    break;
  case Type::FixedVectorTyID:
  case Type::ScalableVectorTyID:
    F.add(cast<VectorType>(T)->getElementCount().getKnownMinValue());
    hashType(F, cast<VectorType>(T)->getElementType(), Depth + 1);
    break;
  case Type::StructTyID: {
    auto *ST = cast<StructType>(T);
    F.add(ST->getNumElements());
    F.add(ST->isPacked());
    for (Type *E : ST->elements())
      hashType(F, E, Depth + 1);
    break;
  }
  case Type::FunctionTyID: {
    auto *FT = cast<FunctionType>(T);
    F.add(FT->isVarArg());
    F.add(FT->getNumParams());
    hashType(F, FT->getReturnType(), Depth + 1);
    for (Type *P : FT->params())
      hashType(F, P, Depth + 1);
    break;
  }
  default:
    break;
  }
}

std::optional<uint32_t> readTypeId(const MDNode *N) {
  if (!N || N->getNumOperands() != 1)
    return std::nullopt;
  if (auto *C = mdconst::dyn_extract_or_null<ConstantInt>(N->getOperand(0)))
    return static_cast<uint32_t>(C->getZExtValue());
  return std::nullopt;
}

MDNode *typeIdNode(LLVMContext &Ctx, uint32_t Id) {
  return MDNode::get(Ctx, {ConstantAsMetadata::get(
                              ConstantInt::get(Type::getInt32Ty(Ctx), Id))});
}

/// Removes the "kcfi" module flag; the backend would otherwise still treat
/// the module as KCFI-instrumented.
void removeKcfiModuleFlag(Module &M) {
  NamedMDNode *Flags = M.getModuleFlagsMetadata();
  if (!Flags)
    return;
  SmallVector<MDNode *, 8> Keep;
  bool Found = false;
  for (MDNode *Flag : Flags->operands()) {
    auto *Key = Flag->getNumOperands() >= 2
                    ? dyn_cast_or_null<MDString>(Flag->getOperand(1))
                    : nullptr;
    if (Key && Key->getString() == "kcfi") {
      Found = true;
      continue;
    }
    Keep.push_back(Flag);
  }
  if (!Found)
    return;
  Flags->clearOperands();
  for (MDNode *Flag : Keep)
    Flags->addOperand(Flag);
}

/// KCFI defines __kcfi_typeid_<fn> symbols in module asm for address-taken
/// declarations (".weak __kcfi_typeid_f" and ".set __kcfi_typeid_f, N");
/// nothing reads them once the checks are gone. Other lines stay.
void removeKcfiTypeIdSymbols(Module &M) {
  StringRef Asm = M.getModuleInlineAsm();
  if (!Asm.contains("__kcfi_typeid_"))
    return;
  SmallVector<StringRef, 16> Lines;
  Asm.split(Lines, '\n');
  std::string Kept;
  for (StringRef L : Lines) {
    StringRef T = L.trim();
    if (T.starts_with(".weak __kcfi_typeid_") || T.starts_with(".set __kcfi_typeid_"))
      continue;
    if (L.empty())
      continue;
    Kept += L;
    Kept += '\n';
  }
  M.setModuleInlineAsm(Kept);
}

} // namespace

uint32_t irTypeHash(const FunctionType *FT) {
  Fnv1a F;
  hashType(F, FT, 0);
  return F.H;
}

std::optional<uint32_t> cTypeId(const Function &F) {
  return readTypeId(F.getMetadata(TypeIdMetadataName));
}

std::optional<uint32_t> cTypeId(const CallBase &CB) {
  return readTypeId(CB.getMetadata(TypeIdMetadataName));
}

PreservedAnalyses CapriTypeIdsPass::run(Module &M, ModuleAnalysisManager &) {
  if (!unsupportedReason(M).empty())
    return PreservedAnalyses::all();
  LLVMContext &Ctx = M.getContext();
  bool Changed = false;

  for (Function &F : M) {
    if (MDNode *K = F.getMetadata(LLVMContext::MD_kcfi_type)) {
      if (auto Id = readTypeId(K)) {
        F.setMetadata(TypeIdMetadataName, typeIdNode(Ctx, *Id));
        ++NumFunctionIds;
      }
      F.setMetadata(LLVMContext::MD_kcfi_type, nullptr);
      Changed = true;
    }
  }

  for (Function &F : M) {
    SmallVector<CallBase *, 16> Checked;
    for (Instruction &I : instructions(F))
      if (auto *CB = dyn_cast<CallBase>(&I))
        if (CB->getOperandBundle(LLVMContext::OB_kcfi))
          Checked.push_back(CB);
    for (CallBase *CB : Checked) {
      auto Bundle = CB->getOperandBundle(LLVMContext::OB_kcfi);
      std::optional<uint32_t> Id;
      if (Bundle && Bundle->Inputs.size() == 1)
        if (auto *C = dyn_cast<ConstantInt>(Bundle->Inputs[0]))
          Id = static_cast<uint32_t>(C->getZExtValue());
      CallBase *New = CallBase::removeOperandBundle(CB, LLVMContext::OB_kcfi,
                                                    CB->getIterator());
      New->copyMetadata(*CB);
      New->takeName(CB);
      if (Id) {
        New->setMetadata(TypeIdMetadataName, typeIdNode(Ctx, *Id));
        ++NumCallIds;
      }
      CB->replaceAllUsesWith(New);
      CB->eraseFromParent();
      Changed = true;
    }
  }

  if (M.getModuleFlag("kcfi")) {
    removeKcfiModuleFlag(M);
    Changed = true;
  }
  removeKcfiTypeIdSymbols(M);

  return Changed ? PreservedAnalyses::none() : PreservedAnalyses::all();
}

} // namespace capri
