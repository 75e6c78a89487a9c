//===-- CallOutlining.cpp - moving a call into a thunk --------------------===//
#include "CallOutlining.h"

#include "llvm/IR/DataLayout.h"
#include "llvm/IR/DerivedTypes.h"
#include "llvm/IR/InlineAsm.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/IntrinsicInst.h"
#include "llvm/Support/Alignment.h"

using namespace llvm;

namespace capri {

namespace {

/// Operands the thunk repeats rather than passes: they must stay constants.
bool repeatedAsConstant(const CallBase &CB, unsigned I) {
  return CB.paramHasAttr(I, Attribute::ImmArg) || CB.getArgOperand(I)->getType()->isMetadataTy();
}

} // namespace

std::string unoutlinableReason(const CallBase &CB) {
  if (isa<CallBrInst>(CB))
    return "callbr";
  if (CB.isInlineAsm())
    return "inline asm";
  if (auto *CI = dyn_cast<CallInst>(&CB); CI && CI->isMustTailCall())
    return "musttail";
  if (CB.hasFnAttr(Attribute::ReturnsTwice))
    return "returns_twice";
  if (CB.getNumOperandBundles() != 0)
    return "operand bundle \"" + CB.getOperandBundleAt(0).getTagName().str() + "\"";
  if (CB.getType()->isTokenTy())
    return "returns a token";
  for (unsigned I = 0, E = CB.arg_size(); I != E; ++I) {
    for (Attribute::AttrKind K : {Attribute::SwiftError, Attribute::SwiftSelf,
                                  Attribute::SwiftAsync, Attribute::InAlloca,
                                  Attribute::Preallocated})
      if (CB.paramHasAttr(I, K))
        return "a " + Attribute::getNameFromAttrKind(K).str() + " argument";
    Type *T = CB.getArgOperand(I)->getType();
    if (T->isTokenTy() || T->isLabelTy())
      return "a token argument";
    if (repeatedAsConstant(CB, I) && !isa<Constant>(CB.getArgOperand(I)) &&
        !T->isMetadataTy())
      return "a non-constant immarg argument";
  }
  return "";
}

ArgumentBlock argumentBlock(const CallBase &CB) {
  ArgumentBlock B;
  SmallVector<Type *, 8> Fields;
  LLVMContext &Ctx = CB.getContext();
  if (CB.isIndirectCall()) {
    B.HoldsCallee = true;
    Fields.push_back(PointerType::get(Ctx, 0));
  }
  for (unsigned I = 0, E = CB.arg_size(); I != E; ++I) {
    if (repeatedAsConstant(CB, I)) {
      B.ArgField.push_back(-1);
      continue;
    }
    B.ArgField.push_back(Fields.size());
    Fields.push_back(CB.getArgOperand(I)->getType());
  }
  if (!CB.getType()->isVoidTy()) {
    B.ResultField = Fields.size();
    Fields.push_back(CB.getType());
  }
  // An empty block still gets one byte, so that it has an address.
  if (Fields.empty())
    Fields.push_back(Type::getInt8Ty(Ctx));
  B.Type = StructType::get(Ctx, Fields);
  return B;
}

uint64_t argumentBlockFrameBytes(const CallBase &CB, const DataLayout &DL) {
  ArgumentBlock B = argumentBlock(CB);
  uint64_t Size = DL.getTypeAllocSize(B.Type).getFixedValue();
  uint64_t Align = DL.getPrefTypeAlign(B.Type).value();
  return alignTo(Size, 16) + (Align > 16 ? Align : 0);
}

} // namespace capri
