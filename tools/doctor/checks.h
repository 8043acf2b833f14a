// Facts -> the HOST, MEMORY and SERVER sections (OK/WARN/FAIL lines, JSON) and the DIAGNOSIS.
#pragma once

#include "facts.h"
#include "report.h"

namespace venus::doctor {

void host_checks(const HostFacts& h, Report& r);
// The VM section: what a VMM on this host would use (vm_probe.cpp).
VmFacts probe_vm();
void vm_checks(const VmFacts& v, Report& r);
void server_checks(const ServerFacts& s, const HostFacts& h, Report& r);
// The known causes of the seed failure (venus-protocol.md §6.4, §7), each recognised from the
// facts and explained with a one-line cause and a one-line fix.
void diagnose(const HostFacts& h, const ServerFacts& s, Report& r);

nlohmann::ordered_json capset_json(const vtest::CapsetVenus& c, size_t size);

}  // namespace venus::doctor
