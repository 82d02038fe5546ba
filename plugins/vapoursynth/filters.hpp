// Filter constructors of the vpf namespace, registered in plugin.cpp.
#pragma once

#include <VapourSynth4.h>

namespace vpfvs {

void VS_CC maskBlurCreate(const VSMap* in, VSMap* out, void* userData, VSCore* core,
                          const VSAPI* vsapi);
void VS_CC haarDownCreate(const VSMap* in, VSMap* out, void* userData, VSCore* core,
                          const VSAPI* vsapi);
void VS_CC haarUpCreate(const VSMap* in, VSMap* out, void* userData, VSCore* core,
                        const VSAPI* vsapi);

}  // namespace vpfvs
