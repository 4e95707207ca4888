package models

import (
	"testing"

	"google.golang.org/protobuf/proto"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
)

// FuzzValidate feeds arbitrary wire bytes, decoded as the requests callers
// send, to the validators: they must never panic, whatever the message.
func FuzzValidate(f *testing.F) {
	seeds := []proto.Message{
		&bbsv1.DesiredLRP{ProcessGuid: "web", Domain: "cf-apps", Instances: 2, RootFs: "preloaded:cflinuxfs4",
			MemoryMb: 256, Ports: []uint32{8080}, Action: &bbsv1.RunAction{Path: "/tmp/lifecycle/launcher"},
			Routes:      map[string][]byte{"cf-router": []byte(`[{"hostnames":["a.example"],"port":8080}]`)},
			Setup:       []*bbsv1.DownloadAction{{From: "https://blobstore/droplet", To: "/home/vcap", ChecksumAlgorithm: "sha256", ChecksumValue: "ab"}},
			HealthCheck: &bbsv1.HealthCheckDefinition{Check: &bbsv1.Check{Type: bbsv1.HealthCheckType_HEALTH_CHECK_TYPE_HTTP, Endpoint: "/"}}},
		&bbsv1.DesiredLRP{ProcessGuid: "../x", Instances: -1, RootFs: "nope", CpuWeight: 500, Ports: []uint32{0, 70000}},
		&bbsv1.DesiredLRPUpdate{Instances: proto.Int32(3), Routes: map[string][]byte{"x": nil}, SetRoutes: true},
		&bbsv1.TaskDefinition{RootFs: "preloaded:cflinuxfs4", Action: &bbsv1.RunAction{Path: "/bin/sh"}, CompletionCallbackUrl: "ftp://x",
			Uploads: []*bbsv1.UploadAction{{From: "/tmp/droplet"}}, Env: []*bbsv1.EnvironmentVariable{{Name: "A=B"}}},
	}
	for _, m := range seeds {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "task-guid", "domain")
	}
	f.Fuzz(func(t *testing.T, b []byte, guid, domain string) {
		var d bbsv1.DesiredLRP
		if proto.Unmarshal(b, &d) == nil {
			_ = ValidateDesiredLRP(&d)
		}
		var u bbsv1.DesiredLRPUpdate
		if proto.Unmarshal(b, &u) == nil {
			_ = ValidateDesiredLRPUpdate(&u)
		}
		var def bbsv1.TaskDefinition
		if proto.Unmarshal(b, &def) == nil {
			_ = ValidateTask(guid, domain, &def)
		}
		_ = ValidateGUID("guid", guid)
	})
}
