// The library's one entry point: ONNX Runtime calls RegisterCustomOps(options, OrtGetApiBase())
// when a session's options load this file (SessionOptions.register_custom_ops_library).
//
// Version contract: the library is compiled against API 21 (onnxruntime 1.21) and asks the
// loading onnxruntime for exactly that table. An older onnxruntime answers GetApi(21) with null;
// the library then takes the newest older table only to create the error status (CreateStatus is
// the first entry of every version of the table) and registers nothing. Nothing is dereferenced
// before its pointer has been checked.
#include <onnxruntime_c_api.h>

#include <mutex>
#include <string>

#include "dynamic_filter_op.hpp"

namespace {

// The domain and its ops are made once per process and kept for its lifetime: every session
// created from options that registered them refers to them, and the API has no hook for when the
// last such session is gone. Every registration adds the same domain.
struct Registry {
    std::mutex mutex;
    const OrtApi* api = nullptr;
    OrtCustomOpDomain* domain = nullptr;
};

Registry& registry() {
    static Registry* instance = new Registry();  // never destroyed: sessions may outlive exit order
    return *instance;
}

OrtStatus* domain_for(const OrtApi* api, OrtCustomOpDomain** out) {
    Registry& r = registry();
    const std::lock_guard<std::mutex> lock(r.mutex);
    if (r.domain == nullptr) {
        OrtCustomOpDomain* domain = nullptr;
        if (OrtStatus* status = api->CreateCustomOpDomain("mgdn", &domain)) return status;
        for (ONNXTensorElementDataType type :
             {ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16}) {
            if (OrtStatus* status = api->CustomOpDomain_Add(domain, mgdn::ort::make_dynamic_filter_op(api, type))) {
                api->ReleaseCustomOpDomain(domain);
                return status;
            }
        }
        r.api = api;
        r.domain = domain;
    } else if (r.api != api) {
        return api->CreateStatus(ORT_FAIL, "libmgdn_ort.so: registered from two different onnxruntime builds in one "
                                           "process; load it from one only");
    }
    *out = r.domain;
    return nullptr;
}

// The error for an onnxruntime whose API table stops below ORT_API_VERSION, or null when even
// that cannot be reported (no table of any version: not an onnxruntime).
OrtStatus* too_old(const OrtApiBase* base) {
    for (uint32_t version = ORT_API_VERSION - 1; version >= 1; --version) {
        const OrtApi* older = base->GetApi(version);
        if (older == nullptr || older->CreateStatus == nullptr) continue;
        const char* release = base->GetVersionString != nullptr ? base->GetVersionString() : nullptr;
        const std::string message =
            "libmgdn_ort.so needs onnxruntime >= 1." + std::to_string(ORT_API_VERSION) + " (ORT API " +
            std::to_string(ORT_API_VERSION) + "); this onnxruntime " + (release ? release : "(unknown release)") +
            " offers API " + std::to_string(version) + ": upgrade onnxruntime or run the portable body";
        return older->CreateStatus(ORT_FAIL, message.c_str());
    }
    return nullptr;
}

}  // namespace

extern "C" __attribute__((visibility("default"))) OrtStatus* ORT_API_CALL
RegisterCustomOps(OrtSessionOptions* options, const OrtApiBase* api_base) noexcept {
    if (api_base == nullptr || api_base->GetApi == nullptr) return nullptr;  // nothing to report with
    const OrtApi* api = api_base->GetApi(ORT_API_VERSION);
    if (api == nullptr) return too_old(api_base);
    try {
        if (options == nullptr) return api->CreateStatus(ORT_INVALID_ARGUMENT, "RegisterCustomOps: no session options");
        OrtCustomOpDomain* domain = nullptr;
        if (OrtStatus* status = domain_for(api, &domain)) return status;
        return api->AddCustomOpDomain(options, domain);
    } catch (...) {  // std::bad_alloc from the registry or the ops
        return api->CreateStatus(ORT_FAIL, "libmgdn_ort.so: out of memory while registering mgdn.DynamicFilter");
    }
}
