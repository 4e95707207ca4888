package appenv

import (
	"encoding/json"
	"testing"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
)

// FuzzVCAPApplication feeds arbitrary VCAP_APPLICATION values and
// cf-router routes, both untrusted JSON from the BBS. The result must
// always be a JSON object carrying the instance's own fields.
func FuzzVCAPApplication(f *testing.F) {
	f.Add(`{"application_name":"dora","limits":{"mem":256}}`, []byte(`[{"hostnames":["dora.example.com"],"port":8080}]`))
	f.Add(``, []byte(``))
	f.Add(`null`, []byte(`null`))
	f.Add(`[1,2]`, []byte(`[{"hostnames":null}]`))
	f.Add(`{"instance_index":"x","host":{}}`, []byte(`[{"hostnames":["a","a",""]}]`))
	f.Add("{\"a\":\"\xff\"}", []byte("[{\"hostnames\":[\"\xfe\"]}]"))
	f.Fuzz(func(t *testing.T, base string, routes []byte) {
		lrp := &bbsv1.DesiredLRP{ProcessGuid: "p", Ports: []uint32{8080}, Routes: map[string][]byte{"cf-router": routes}}
		out := VCAPApplication(base, lrp, 3, "guid", 8080)
		var app map[string]json.RawMessage
		if err := json.Unmarshal([]byte(out), &app); err != nil || app == nil {
			t.Fatalf("VCAP_APPLICATION %q is not a JSON object: %v", out, err)
		}
		for k, want := range map[string]string{"instance_id": `"guid"`, "instance_index": `3`, "host": `"0.0.0.0"`, "port": `8080`} {
			if string(app[k]) != want {
				t.Errorf("%s = %s, want %s", k, app[k], want)
			}
		}
		for _, u := range URIs(routes) {
			if u == "" {
				t.Error("empty URI")
			}
		}
		vars := LRP(&bbsv1.DesiredLRP{Env: []*bbsv1.EnvironmentVariable{{Name: "VCAP_APPLICATION", Value: base}, {Name: base, Value: string(routes)}}}, 0, "g", Net{})
		seen := map[string]bool{}
		for _, v := range vars {
			name := v[:indexByte(v, '=')]
			if name == "" || seen[name] {
				t.Fatalf("bad or duplicate name in %q", v)
			}
			seen[name] = true
		}
	})
}

func indexByte(s string, c byte) int {
	for i := range len(s) {
		if s[i] == c {
			return i
		}
	}
	return len(s)
}
