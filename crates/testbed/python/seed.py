"""Seeds a running moto_server through its API with boto3, from a plan the
Rust caller writes (certificates it generated, what to deploy where), and
prints what moto assigned (ARNs, DNS names, ids) as JSON.

ACM certificates, load balancers, listeners and distributions may carry
`"tags": {"key": "value", ...}`, given to moto when they are created.

Users in `plan["users"]` get an inline policy and an access key, printed
under "users" (for tests that switch moto's request authentication on).

Usage: seed.py ENDPOINT PLAN.json (or `-`: the plan on stdin)"""

import json
import sys

import boto3

endpoint, plan_path = sys.argv[1], sys.argv[2]
if plan_path == "-":
    plan = json.load(sys.stdin)
else:
    with open(plan_path) as f:
        plan = json.load(f)


def client(service, region="us-east-1"):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="AKIAMOTOSEEDER000000",
        aws_secret_access_key="seeder-secret",
    )


def tag_list(item):
    return [{"Key": key, "Value": value} for key, value in item.get("tags", {}).items()]


out = {"acm": {}, "load_balancers": {}, "distributions": {}, "iam": {}}
for section in ("acm", "iam", "load_balancers", "distributions"):
    plan.setdefault(section, [])

for cert in plan["acm"]:
    acm = client("acm", cert["region"])
    args = {"Certificate": cert["pem"].encode(), "PrivateKey": cert["key"].encode()}
    if cert.get("reimport_of"):
        args["CertificateArn"] = out["acm"][cert["reimport_of"]]
    elif cert.get("tags"):
        args["Tags"] = tag_list(cert)
    arn = acm.import_certificate(**args)["CertificateArn"]
    out["acm"][cert["name"]] = arn

for cert in plan["iam"]:
    iam = client("iam")
    meta = iam.upload_server_certificate(
        ServerCertificateName=cert["name"],
        CertificateBody=cert["pem"],
        PrivateKey=cert["key"],
        Path=cert.get("path", "/"),
    )["ServerCertificateMetadata"]
    out["iam"][cert["name"]] = {"id": meta["ServerCertificateId"], "arn": meta["Arn"]}


def certificate_arn(ref):
    kind, name = ref.split(":", 1)
    return out["acm"][name] if kind == "acm" else out["iam"][name]["arn"]


networks = {}
for lb in plan["load_balancers"]:
    region = lb["region"]
    ec2 = client("ec2", region)
    elb = client("elbv2", region)
    if region not in networks:
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnets = [
            ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{region}{zone}")["Subnet"]["SubnetId"]
            for i, zone in enumerate("ab", start=1)
        ]
        networks[region] = (vpc, subnets)
    vpc, subnets = networks[region]
    args = {"Name": lb["name"], "Subnets": subnets, "Type": lb["type"]}
    if lb.get("tags"):
        args["Tags"] = tag_list(lb)
    created = elb.create_load_balancer(**args)["LoadBalancers"][0]
    out["load_balancers"][lb["name"]] = {"arn": created["LoadBalancerArn"], "dns_name": created["DNSName"]}
    for listener in lb["listeners"]:
        group = elb.create_target_group(
            Name=f'{lb["name"]}-{listener["port"]}',
            Protocol="HTTP" if lb["type"] == "application" else "TCP",
            Port=80,
            VpcId=vpc,
        )["TargetGroups"][0]["TargetGroupArn"]
        args = {
            "LoadBalancerArn": created["LoadBalancerArn"],
            "Protocol": listener["protocol"],
            "Port": listener["port"],
            "DefaultActions": [{"Type": "forward", "TargetGroupArn": group}],
        }
        if listener.get("tags"):
            args["Tags"] = tag_list(listener)
        if listener.get("default"):
            args["Certificates"] = [{"CertificateArn": certificate_arn(listener["default"])}]
        arn = elb.create_listener(**args)["Listeners"][0]["ListenerArn"]
        if listener.get("sni"):
            elb.add_listener_certificates(
                ListenerArn=arn, Certificates=[{"CertificateArn": certificate_arn(ref)} for ref in listener["sni"]]
            )

cloudfront = client("cloudfront")
for i, dist in enumerate(plan["distributions"]):
    viewer = {"MinimumProtocolVersion": "TLSv1.2_2021", "SSLSupportMethod": "sni-only"}
    if dist.get("certificate"):
        kind, name = dist["certificate"].split(":", 1)
        if kind == "acm":
            viewer["ACMCertificateArn"] = out["acm"][name]
        else:
            viewer["IAMCertificateId"] = out["iam"][name]["id"]
    else:
        viewer = {"CloudFrontDefaultCertificate": True}
    config = {
        "CallerReference": f"certinspect-{i}",
        "Aliases": {"Quantity": len(dist["aliases"]), "Items": dist["aliases"]},
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": "origin",
                    "DomainName": "origin.example.test",
                    "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only"},
                }
            ],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": "origin",
            "ViewerProtocolPolicy": "redirect-to-https",
            "MinTTL": 0,
            "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
        },
        "Comment": dist["name"],
        "Enabled": True,
        "ViewerCertificate": viewer,
    }
    if dist.get("tags"):
        created = cloudfront.create_distribution_with_tags(
            DistributionConfigWithTags={"DistributionConfig": config, "Tags": {"Items": tag_list(dist)}}
        )["Distribution"]
    else:
        created = cloudfront.create_distribution(DistributionConfig=config)["Distribution"]
    out["distributions"][dist["name"]] = {"id": created["Id"], "domain_name": created["DomainName"], "arn": created["ARN"]}

for user in plan.get("users", []):
    iam = client("iam")
    iam.create_user(UserName=user["name"])
    iam.put_user_policy(UserName=user["name"], PolicyName="certinspect", PolicyDocument=user["policy"])
    key = iam.create_access_key(UserName=user["name"])["AccessKey"]
    out.setdefault("users", {})[user["name"]] = {
        "access_key_id": key["AccessKeyId"],
        "secret_access_key": key["SecretAccessKey"],
    }

print(json.dumps(out))
