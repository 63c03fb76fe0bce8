"""Official Alibaba Cloud Python SDKs against the emulator.

Run by tests/sdk_interop.rs inside a virtualenv with the pinned SDK packages. Reads the
world facts it needs from the JSON file named by EMU_FACTS, calls every emulated operation
with V3 signing, V1 signing (signature_algorithm='v2') and STS credentials (from the
world's STS key and from AssumeRole), checks that every response parses into the SDK's
models, and that a wrong secret is refused with the code and status the SDK expects.
Prints one JSON summary line; exits non-zero on the first mismatch.
"""

import inspect
import json
import os
import re
import sys
import time
import typing

from alibabacloud_tea_openapi.utils_models import Config
from alibabacloud_tea_openapi import exceptions as oa_exceptions
from alibabacloud_cdn20180510.client import Client as CdnClient
from alibabacloud_cdn20180510 import models as cdn
from alibabacloud_slb20140515.client import Client as SlbClient
from alibabacloud_slb20140515 import models as slb
from alibabacloud_cas20200407.client import Client as CasClient
from alibabacloud_cas20200407 import models as cas
from alibabacloud_cas20200630.client import Client as PcaClient
from alibabacloud_cas20200630 import models as pca
from alibabacloud_sts20150401.client import Client as StsClient
from alibabacloud_sts20150401 import models as sts
from alibabacloud_dcdn20180115.client import Client as DcdnClient
from alibabacloud_dcdn20180115 import models as dcdn
from alibabacloud_nlb20220430.client import Client as NlbClient
from alibabacloud_nlb20220430 import models as nlb
from alibabacloud_alb20200616.client import Client as AlbClient
from alibabacloud_alb20200616 import models as alb

F = json.load(open(os.environ["EMU_FACTS"]))
ENDPOINT = F["endpoint"]


def config(ak, secret, token=None, v1=False):
    c = Config(
        access_key_id=ak,
        access_key_secret=secret,
        security_token=token,
        endpoint=ENDPOINT,
        protocol="http",
        region_id=F["region"],
        read_timeout=20000,
        connect_timeout=5000,
    )
    if v1:
        c.signature_algorithm = "v2"
    return c


def check(cond, what):
    if not cond:
        print("FAILED: " + what, file=sys.stderr)
        sys.exit(1)


SECONDS_CEILING = 100_000_000_000  # below: seconds; above: milliseconds
_UNITS = {}


def _units_of(cls):
    """Documented time units by attribute, from the comments the SDK generator writes
    above each `self.<field> = <field>` in the model's __init__."""
    if cls not in _UNITS:
        units, comment = {}, []
        for line in inspect.getsource(cls.__init__).splitlines():
            line = line.strip()
            if line.startswith("#"):
                comment.append(line[1:].strip().lower())
                continue
            m = re.match(r"self\.(\w+) = ", line)
            if m:
                text = " ".join(comment)
                if re.search(r"unit: milliseconds|in milliseconds|timestamp in milliseconds", text):
                    units[m.group(1)] = "ms"
                elif re.search(r"unit: seconds|in seconds|accurate to seconds|timestamp in seconds", text):
                    units[m.group(1)] = "s"
            comment = []
        _UNITS[cls] = units
    return _UNITS[cls]


def _type_ok(value, hint):
    origin = typing.get_origin(hint)
    if origin in (list, typing.List):
        (inner,) = typing.get_args(hint) or (typing.Any,)
        return isinstance(value, list) and all(v is None or _type_ok(v, inner) for v in value)
    if origin in (dict, typing.Dict):
        return isinstance(value, dict)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if inspect.isclass(hint) and hasattr(hint, "from_map"):
        return hasattr(value, "to_map")
    return True


def check_model(label, model, path=""):
    """Every parsed field has the JSON type its SDK annotation names (from_map accepts
    anything, so the SDK parse alone cannot tell), and every timestamp the model
    documents in seconds or milliseconds has that magnitude."""
    cls = type(model)
    module = sys.modules[cls.__module__]
    hints = typing.get_type_hints(cls.__init__, vars(module))
    units = _units_of(cls)
    for name, hint in hints.items():
        if name == "return":
            continue
        value = getattr(model, name, None)
        if value is None:
            continue
        where = "%s %s%s.%s" % (label, path, cls.__name__, name)
        check(_type_ok(value, hint), "%s is %r, the SDK model says %r" % (where, value, hint))
        unit = units.get(name)
        if unit and not isinstance(value, bool) and str(value).lstrip("-").isdigit() and int(value) != 0:
            magnitude_ok = int(value) >= SECONDS_CEILING if unit == "ms" else int(value) < SECONDS_CEILING
            check(magnitude_ok, "%s = %r is documented in %s" % (where, value, "milliseconds" if unit == "ms" else "seconds"))
        items = value if isinstance(value, list) else [value]
        for item in items:
            if hasattr(item, "to_map") and hasattr(item, "from_map"):
                check_model(label, item, path + cls.__name__ + ".")
    return model


def run_all(label, cfg):
    """Every operation once; asserts on parsed SDK models, not on raw JSON."""
    # CAS allows 10 calls/s per account and each pass makes 3 ListUserCertificateOrder
    # calls: start every pass in a fresh second, as a well-behaved client would.
    time.sleep(1.1)
    calls = 0
    c = CdnClient(cfg)
    r = c.describe_cdn_https_domain_list(cdn.DescribeCdnHttpsDomainListRequest(page_number=1, page_size=500))
    b = check_model(label, r.body)
    check(r.status_code == 200, label + " cdn status")
    check(b.total_count == F["cdn_total"], label + " cdn total %r" % b.total_count)
    check(len(b.cert_infos.cert_info) == F["cdn_total"], label + " cdn rows")
    row = b.cert_infos.cert_info[0]
    check(isinstance(row.domain_name, str) and isinstance(row.cert_expire_time, str), label + " cdn row")
    info = check_model(label, c.describe_domain_certificate_info(
        cdn.DescribeDomainCertificateInfoRequest(domain_name=F["cdn_cas_domain"])
    ).body).cert_infos.cert_info[0]
    check(info.cert_id == str(F["cdn_cas_cert_id"]) and info.server_certificate_status in ("on", "off"), label + " cdn info")
    tagged = check_model(label, c.describe_tag_resources(cdn.DescribeTagResourcesRequest(
        resource_type="DOMAIN", resource_id=[F["cdn_tagged_domain"], F["cdn_untagged_domain"]]
    )).body).tag_resources
    check([(r.resource_id, [[t.key, t.value] for t in r.tag]) for r in tagged] == [(F["cdn_tagged_domain"], F["cdn_tags"])],
          label + " cdn tags")
    calls += 3

    d = DcdnClient(cfg)
    rows = check_model(label, d.describe_dcdn_https_domain_list(dcdn.DescribeDcdnHttpsDomainListRequest(page_size=500)).body)
    check(rows.total_count == F["dcdn_total"] and len(rows.cert_infos.cert_info) == F["dcdn_total"], label + " dcdn rows")
    dinfo = check_model(label, d.describe_dcdn_domain_certificate_info(
        dcdn.DescribeDcdnDomainCertificateInfoRequest(domain_name=F["dcdn_domain"])
    ).body).cert_infos.cert_info[0]
    check(dinfo.sslprotocol in ("on", "off") and dinfo.cert_domain_name, label + " dcdn info")
    dtagged = check_model(label, d.describe_dcdn_tag_resources(dcdn.DescribeDcdnTagResourcesRequest(
        resource_type="DOMAIN", resource_id=[F["dcdn_tagged_domain"]]
    )).body).tag_resources
    check([(r.resource_id, [[t.key, t.value] for t in r.tag]) for r in dtagged] == [(F["dcdn_tagged_domain"], F["dcdn_tags"])],
          label + " dcdn tags")
    calls += 3

    s = SlbClient(cfg)
    regions = check_model(label, s.describe_regions(slb.DescribeRegionsRequest()).body).regions.region
    check(any(x.region_id == F["region"] for x in regions), label + " regions")
    certs = check_model(label, s.describe_server_certificates(
        slb.DescribeServerCertificatesRequest(region_id=F["region"])
    ).body).server_certificates.server_certificate
    check(len(certs) == F["slb_certs"], label + " slb certs %d" % len(certs))
    check(all(len(x.fingerprint) == 59 and isinstance(x.expire_time_stamp, int) for x in certs), label + " slb cert fields")
    check(isinstance(certs[0].subject_alternative_names.subject_alternative_name, list), label + " sans")
    lbs = check_model(label, s.describe_load_balancers(
        slb.DescribeLoadBalancersRequest(region_id=F["region"], page_number=1, page_size=100)
    ).body)
    check(lbs.total_count == F["slb_lbs"], label + " lbs")
    lb_id = F["lb_id"]
    attr = check_model(label, s.describe_load_balancer_attribute(
        slb.DescribeLoadBalancerAttributeRequest(region_id=F["region"], load_balancer_id=lb_id)
    ).body)
    ports = attr.listener_ports_and_protocol.listener_port_and_protocol
    check(any(p.listener_protocol == "https" and p.listener_port == 443 for p in ports), label + " lb attr")
    https = check_model(label, s.describe_load_balancer_httpslistener_attribute(
        slb.DescribeLoadBalancerHTTPSListenerAttributeRequest(region_id=F["region"], load_balancer_id=lb_id, listener_port=443)
    ).body)
    check(https.server_certificate_id == F["lb_default_cert"], label + " https listener")
    check(len(https.domain_extensions.domain_extension) == F["lb_extensions"], label + " https extensions")
    ext = check_model(label, s.describe_domain_extensions(
        slb.DescribeDomainExtensionsRequest(region_id=F["region"], load_balancer_id=lb_id, listener_port=443)
    ).body).domain_extensions.domain_extension
    check(len(ext) == F["lb_extensions"], label + " domain extensions")
    calls += 6

    k = CasClient(cfg)
    orders = check_model(label, k.list_user_certificate_order(cas.ListUserCertificateOrderRequest(order_type="CERT", show_size=100)).body)
    check(orders.total_count == F["cas_valid"], label + " cas CERT total %r" % orders.total_count)
    row = orders.certificate_order_list[0]
    check(isinstance(row.certificate_id, int) and len(row.fingerprint) == 40, label + " cas row")
    expired = check_model(label, k.list_user_certificate_order(cas.ListUserCertificateOrderRequest(order_type="CERT", status="EXPIRED", show_size=100)).body)
    check(expired.total_count == F["cas_expired"], label + " cas EXPIRED total")
    cpack = check_model(label, k.list_user_certificate_order(cas.ListUserCertificateOrderRequest()).body)
    check(all(x.certificate_id is None for x in cpack.certificate_order_list), label + " no CertificateId on CPACK rows")
    check(all(x.trustee_status in ("trustee", "unTrustee") for x in cpack.certificate_order_list), label + " trustee")
    det = check_model(label, k.get_user_certificate_detail(cas.GetUserCertificateDetailRequest(cert_id=F["cas_cert_id"], cert_filter=True)).body)
    check(det.id == F["cas_cert_id"] and det.key is None and det.cert is None, label + " detail")
    check(isinstance(det.not_after, int) and det.cert_identifier.endswith("-cn-hangzhou"), label + " detail fields")
    inst = check_model(label, k.list_instances(cas.ListInstancesRequest(show_size=100)).body)
    check(inst.total_count == F["cas_instances"], label + " instances")
    check(all(x.auto_reissue in ("enable", "disable") for x in inst.instance_list), label + " auto reissue")
    one = check_model(label, k.get_instance_detail(cas.GetInstanceDetailRequest(instance_id=F["instance_id"])).body)
    check(one.instance_id == F["instance_id"] and one.auto_reissue_flag == 1, label + " instance detail")
    res = check_model(label, k.list_cloud_resources(cas.ListCloudResourcesRequest(cert_ids=[F["deployed_cert_id"]])).body)
    check(res.total >= 1 and res.data[0].cert_id == F["deployed_cert_id"], label + " cloud resources")
    calls += 7

    a = AlbClient(cfg)
    lbs = check_model(label, a.list_load_balancers(alb.ListLoadBalancersRequest(max_results=2)).body)
    check(lbs.total_count == F["alb_lbs"] and len(lbs.load_balancers) == 2 and lbs.next_token, label + " alb page 1")
    rest = check_model(label, a.list_load_balancers(alb.ListLoadBalancersRequest(max_results=100, next_token=lbs.next_token)).body)
    check(len(rest.load_balancers) == F["alb_lbs"] - 2 and not rest.next_token, label + " alb page 2")
    check([(t.key, t.value) for t in lbs.load_balancers[0].tags] == [("owner", "owner-0")], label + " alb tags")
    listeners = check_model(label, a.list_listeners(
        alb.ListListenersRequest(load_balancer_ids=[F["alb_lb_id"]], listener_protocol="HTTPS")
    ).body).listeners
    check([x.listener_id for x in listeners] == [F["alb_listener_id"]], label + " alb listeners")
    certs = check_model(label, a.list_listener_certificates(
        alb.ListListenerCertificatesRequest(listener_id=F["alb_listener_id"], certificate_type="Server")
    ).body).certificates
    check([(x.certificate_id, x.is_default) for x in certs] == [tuple(c) for c in F["alb_certificates"]], label + " alb certificates")
    calls += 4

    n = NlbClient(cfg)
    nlbs = check_model(label, n.list_load_balancers(nlb.ListLoadBalancersRequest(max_results=100, region_id=F["region"])).body)
    check(nlbs.total_count == F["nlb_lbs"] and len(nlbs.load_balancers) == F["nlb_lbs"], label + " nlb lbs")
    check(all(len(x.tags) == 1 and x.tags[0].key == "owner" for x in nlbs.load_balancers), label + " nlb tags")
    nl = check_model(label, n.list_listeners(
        nlb.ListListenersRequest(load_balancer_ids=[F["nlb_lb_id"]], listener_protocol="TCPSSL", region_id=F["region"])
    ).body).listeners
    check([x.listener_id for x in nl] == [F["nlb_listener_id"]], label + " nlb listeners")
    nc = check_model(label, n.list_listener_certificates(
        nlb.ListListenerCertificatesRequest(listener_id=F["nlb_listener_id"], cert_type="Server", region_id=F["region"])
    ).body).certificates
    check(len(nc) == F["nlb_certificates"] and all(x.certificate_id for x in nc), label + " nlb certificates")
    calls += 3

    p = PcaClient(cfg)
    st = check_model(label, p.describe_client_certificate_status_for_serial_number(
        pca.DescribeClientCertificateStatusForSerialNumberRequest(serial_number=",".join(F["serials"]))
    ).body).certificate_status
    check([x.status for x in st] == F["serial_statuses"], label + " pca %r" % [x.status for x in st])
    revoked = [x for x in st if x.status == "revoked"]
    check(all(isinstance(x.revoke_time, int) for x in revoked), label + " revoke time")
    calls += 1
    return calls


def expect_refused(label, cfg, code, status):
    try:
        CdnClient(cfg).describe_cdn_https_domain_list(cdn.DescribeCdnHttpsDomainListRequest())
    except oa_exceptions.ClientException as e:
        check(e.code == code and e.status_code == status, label + " got %r %r" % (e.code, e.status_code))
        return
    check(False, label + " was not refused")


def main():
    total = 0
    for v1 in (False, True):
        tag = "v1" if v1 else "v3"
        total += run_all(tag, config(F["ak"], F["secret"], v1=v1))
        total += run_all(tag + "-sts", config(F["sts_ak"], F["sts_secret"], F["sts_token"], v1=v1))
        role = StsClient(config(F["ak"], F["secret"], v1=v1)).assume_role(
            sts.AssumeRoleRequest(role_arn=F["role_arn"], role_session_name="sdk-interop", duration_seconds=900)
        ).body.credentials
        total += run_all(tag + "-assumed", config(role.access_key_id, role.access_key_secret, role.security_token, v1=v1))
        expect_refused(tag + " wrong secret", config(F["ak"], "not-the-secret", v1=v1), "SignatureDoesNotMatch", 400)
        expect_refused(tag + " unknown key", config("LTAI5tNoSuchKey000", "x", v1=v1), "InvalidAccessKeyId.NotFound", 404)
    print(json.dumps({"ok": True, "calls": total}))


if __name__ == "__main__":
    main()
