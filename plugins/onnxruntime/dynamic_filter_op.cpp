// Every callback ONNX Runtime calls is noexcept in effect: errors become an OrtStatus (a clear
// one-line message naming the node and the shapes), never an exception crossing the C API.
#include "dynamic_filter_op.hpp"

#include <cstdint>
#include <exception>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "dynamic_filter_cpu.hpp"
#include "ort_threads.hpp"

namespace mgdn {
namespace ort {
namespace {

constexpr const char* kOpName = "DynamicFilter";
constexpr const char* kKernelSizeAttr = "kernel_size";

// A user-fixable problem with the node or its inputs (reported as ORT_INVALID_ARGUMENT).
struct InvalidArgument : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Turns an OrtStatus from an API call into an exception (the status is released here).
void check(const OrtApi& api, OrtStatus* status) {
    if (status == nullptr) return;
    const std::string message = api.GetErrorMessage(status);
    api.ReleaseStatus(status);
    throw std::runtime_error(message);
}

// Runs `body`; any exception becomes an OrtStatus for ONNX Runtime.
template <typename Body>
OrtStatus* guarded(const OrtApi& api, Body&& body) noexcept {
    try {
        body();
        return nullptr;
    } catch (const InvalidArgument& e) {
        return api.CreateStatus(ORT_INVALID_ARGUMENT, e.what());
    } catch (const std::bad_alloc&) {
        return api.CreateStatus(ORT_FAIL, "DynamicFilter: out of memory");
    } catch (const std::exception& e) {
        return api.CreateStatus(ORT_FAIL, (std::string("DynamicFilter: ") + e.what()).c_str());
    } catch (...) {
        return api.CreateStatus(ORT_FAIL, "DynamicFilter: unknown C++ exception");
    }
}

std::string dims_text(const std::vector<int64_t>& dims) {
    std::string text = "[";
    for (size_t i = 0; i < dims.size(); ++i) {
        text += (i ? "," : "") + (dims[i] < 0 ? std::string("?") : std::to_string(dims[i]));
    }
    return text + "]";
}

std::vector<int64_t> shape_of(const OrtApi& api, const OrtTensorTypeAndShapeInfo* info) {
    size_t rank = 0;
    check(api, api.GetDimensionsCount(info, &rank));
    std::vector<int64_t> dims(rank);
    if (rank) check(api, api.GetDimensions(info, dims.data(), rank));
    return dims;
}

void check_kernel_size(int64_t k, const std::string& where) {
    if (k < 1 || k % 2 == 0 || k > 63)
        throw InvalidArgument(where + ": kernel_size must be odd and in 1..63, got " + std::to_string(k));
}

// The checks of dynamic_filter_op.cpp (OpenVINO), in the same words; dimensions < 0 are unknown
// (symbolic at shape-inference time) and pass.
void check_shapes(const std::vector<int64_t>& feat, const std::vector<int64_t>& kernels, int64_t k,
                  const std::string& where) {
    if (feat.size() != 4)
        throw InvalidArgument(where + ": feat must be 4-D [N,C,H,W], got " + dims_text(feat));
    if (kernels.size() != 4)
        throw InvalidArgument(where + ": kernels must be 4-D [N,k*k,H,W], got " + dims_text(kernels));
    if (kernels[1] >= 0 && kernels[1] != k * k)
        throw InvalidArgument(where + ": kernels have " + std::to_string(kernels[1]) +
                              " channels, expected kernel_size^2 = " + std::to_string(k * k) + " (kernel_size " +
                              std::to_string(k) + ")");
    static const char* const axes[4] = {"N", "C", "H", "W"};
    for (int axis : {0, 2, 3}) {
        if (feat[axis] >= 0 && kernels[axis] >= 0 && feat[axis] != kernels[axis])
            throw InvalidArgument(where + ": feat and kernels differ in " + axes[axis] + " (feat " +
                                  dims_text(feat) + ", kernels " + dims_text(kernels) + ")");
    }
}

// The registered op: OrtCustomOp first, so ONNX Runtime's pointer to it is a pointer to this.
struct FilterOp {
    OrtCustomOp base;
    const OrtApi* api;
    ONNXTensorElementDataType type;
};

const FilterOp& op_of(const OrtCustomOp* op) { return *reinterpret_cast<const FilterOp*>(op); }

struct FilterKernel {
    const OrtApi* api;
    ONNXTensorElementDataType type;
    int64_t ksize;
    std::string where;  // "DynamicFilter node '<name>'" (or "DynamicFilter"), what error messages start with
};

OrtStatus* ORT_API_CALL create_kernel(const OrtCustomOp* op, const OrtApi* api, const OrtKernelInfo* info,
                                      void** kernel) noexcept {
    *kernel = nullptr;
    return guarded(*api, [&] {
        std::string name;
        size_t size = 0;
        if (OrtStatus* s = api->KernelInfo_GetNodeName(info, nullptr, &size)) {
            api->ReleaseStatus(s);  // a name is only for messages
        } else if (size > 1) {
            std::vector<char> buffer(size);
            check(*api, api->KernelInfo_GetNodeName(info, buffer.data(), &size));
            name.assign(buffer.data());
        }
        const std::string where = name.empty() ? std::string(kOpName) : std::string(kOpName) + " node '" + name + "'";
        int64_t k = 0;
        if (OrtStatus* s = api->KernelInfoGetAttribute_int64(info, kKernelSizeAttr, &k)) {
            api->ReleaseStatus(s);
            throw InvalidArgument(where + ": the int attribute kernel_size is missing");
        }
        check_kernel_size(k, where);
        *kernel = new FilterKernel{api, op_of(op).type, k, where};
    });
}

OrtStatus* ORT_API_CALL compute(void* state, OrtKernelContext* context) noexcept {
    const FilterKernel& kernel = *static_cast<FilterKernel*>(state);
    const OrtApi& api = *kernel.api;
    return guarded(api, [&] {
        const OrtValue* values[2] = {nullptr, nullptr};
        std::vector<int64_t> shapes[2];
        for (size_t i = 0; i < 2; ++i) {
            check(api, api.KernelContext_GetInput(context, i, &values[i]));
            OrtTensorTypeAndShapeInfo* info = nullptr;
            check(api, api.GetTensorTypeAndShape(values[i], &info));
            try {
                shapes[i] = shape_of(api, info);
            } catch (...) {
                api.ReleaseTensorTypeAndShapeInfo(info);
                throw;
            }
            api.ReleaseTensorTypeAndShapeInfo(info);
        }
        check_shapes(shapes[0], shapes[1], kernel.ksize, kernel.where);
        const std::vector<int64_t>& fs = shapes[0];
        OrtValue* output = nullptr;
        check(api, api.KernelContext_GetOutput(context, 0, fs.data(), fs.size(), &output));
        if (fs[0] * fs[1] * fs[2] * fs[3] == 0) return;
        void* feat = nullptr;
        void* taps = nullptr;
        void* out = nullptr;
        // ONNX Runtime's C API has no const accessor for input data; the inputs are only read.
        check(api, api.GetTensorMutableData(const_cast<OrtValue*>(values[0]), &feat));
        check(api, api.GetTensorMutableData(const_cast<OrtValue*>(values[1]), &taps));
        check(api, api.GetTensorMutableData(output, &out));
        const cpu::DType dtype =
            kernel.type == ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16 ? cpu::DType::f16 : cpu::DType::f32;
        const cpu::FilterShape shape{fs[0], fs[1], fs[2], fs[3], static_cast<int>(kernel.ksize)};
        IntraOpThreads threads(api, context);
        cpu::dynamic_filter(feat, taps, out, dtype, shape, threads);
    });
}

void ORT_API_CALL destroy_kernel(void* state) noexcept { delete static_cast<FilterKernel*>(state); }

// Output = feat's type and shape; the node's shapes are checked where they are known. (ONNX
// Runtime logs a failed custom-op inference instead of failing the session, so compute() checks
// the actual shapes again.)
OrtStatus* ORT_API_CALL infer_shape(const OrtCustomOp* op, OrtShapeInferContext* context) noexcept {
    const OrtApi& api = *op_of(op).api;
    return guarded(api, [&] {
        const std::string where = kOpName;
        const OrtOpAttr* attr = nullptr;
        int64_t k = 0;
        size_t read = 0;
        if (OrtStatus* s = api.ShapeInferContext_GetAttribute(context, kKernelSizeAttr, &attr)) {
            api.ReleaseStatus(s);
            attr = nullptr;
        }
        if (attr == nullptr) throw InvalidArgument(where + ": the int attribute kernel_size is missing");
        check(api, api.ReadOpAttr(attr, ORT_OP_ATTR_INT, &k, sizeof(k), &read));
        check_kernel_size(k, where);
        // The context owns these infos (ONNX Runtime keeps them in the context and frees them
        // with it; releasing them here is a double free), unlike GetTensorTypeAndShape's.
        OrtTensorTypeAndShapeInfo* infos[2] = {nullptr, nullptr};
        for (size_t i = 0; i < 2; ++i) check(api, api.ShapeInferContext_GetInputTypeShape(context, i, &infos[i]));
        const std::vector<int64_t> feat = shape_of(api, infos[0]);
        const std::vector<int64_t> kernels = shape_of(api, infos[1]);
        // A rank ONNX shape inference does not know yet reads as 0 dimensions: nothing to check.
        if (!feat.empty() && !kernels.empty()) check_shapes(feat, kernels, k, where);
        check(api, api.ShapeInferContext_SetOutputTypeShape(context, 0, infos[0]));
    });
}

const char* ORT_API_CALL op_name(const OrtCustomOp*) noexcept { return kOpName; }
const char* ORT_API_CALL op_provider(const OrtCustomOp*) noexcept { return nullptr; }  // CPU EP
ONNXTensorElementDataType ORT_API_CALL op_type(const OrtCustomOp* op, size_t) noexcept { return op_of(op).type; }
size_t ORT_API_CALL two(const OrtCustomOp*) noexcept { return 2; }
size_t ORT_API_CALL one(const OrtCustomOp*) noexcept { return 1; }
OrtCustomOpInputOutputCharacteristic ORT_API_CALL required(const OrtCustomOp*, size_t) noexcept {
    return INPUT_OUTPUT_REQUIRED;
}
OrtMemType ORT_API_CALL default_memory(const OrtCustomOp*, size_t) noexcept { return OrtMemTypeDefault; }
int ORT_API_CALL zero(const OrtCustomOp*) noexcept { return 0; }
int ORT_API_CALL since_version(const OrtCustomOp*) noexcept { return 1; }  // mgdn opset 1
int ORT_API_CALL until_version(const OrtCustomOp*) noexcept { return 1; }

}  // namespace

const OrtCustomOp* make_dynamic_filter_op(const OrtApi* api, ONNXTensorElementDataType type) {
    FilterOp* op = new FilterOp{};  // zeroed: every callback this version does not set stays null
    OrtCustomOp& base = op->base;
    base.version = ORT_API_VERSION;
    base.GetName = op_name;
    base.GetExecutionProviderType = op_provider;
    base.GetInputType = op_type;
    base.GetInputTypeCount = two;
    base.GetOutputType = op_type;
    base.GetOutputTypeCount = one;
    base.KernelDestroy = destroy_kernel;
    base.GetInputCharacteristic = required;
    base.GetOutputCharacteristic = required;
    base.GetInputMemoryType = default_memory;
    base.GetVariadicInputMinArity = zero;
    base.GetVariadicInputHomogeneity = zero;
    base.GetVariadicOutputMinArity = zero;
    base.GetVariadicOutputHomogeneity = zero;
    base.CreateKernelV2 = create_kernel;
    base.KernelComputeV2 = compute;
    base.InferOutputShapeFn = infer_shape;
    base.GetStartVersion = since_version;
    base.GetEndVersion = until_version;
    op->api = api;
    op->type = type;
    return &op->base;
}

}  // namespace ort
}  // namespace mgdn
