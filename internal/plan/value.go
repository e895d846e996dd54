package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/archive"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/asset"
)

// Markers that stand in for values a plan must not or cannot show.
const (
	Secret  = "[secret]"
	Unknown = "[unknown]"
)

// Inputs turns a resource's inputs into plain JSON values (map[string]any,
// []any, string, float64, bool, nil). Every secret, at any depth, becomes
// "[secret]" and every unknown "[unknown]", so the result can be printed.
func Inputs(m resource.PropertyMap) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[string(k)] = Value(v)
	}
	return out
}

// Value converts one property value the same way as Inputs.
func Value(v resource.PropertyValue) any {
	switch {
	case v.IsSecret():
		return Secret
	case v.IsComputed():
		return Unknown
	case v.IsOutput():
		o := v.OutputValue()
		if o.Secret {
			return Secret
		}
		if !o.Known {
			return Unknown
		}
		return Value(o.Element)
	case v.IsNull():
		return nil
	case v.IsBool():
		return v.BoolValue()
	case v.IsNumber():
		return v.NumberValue()
	case v.IsString():
		return v.StringValue()
	case v.IsArray():
		arr := v.ArrayValue()
		out := make([]any, len(arr))
		for i, e := range arr {
			out[i] = Value(e)
		}
		return out
	case v.IsObject():
		return Inputs(v.ObjectValue())
	case v.IsAsset():
		return map[string]any{"asset": assetValue(v.AssetValue())}
	case v.IsArchive():
		return map[string]any{"archive": archiveValue(v.ArchiveValue())}
	case v.IsResourceReference():
		ref := v.ResourceReferenceValue()
		r := map[string]any{"urn": string(ref.URN)}
		if !ref.ID.IsNull() {
			r["id"] = Value(ref.ID)
		}
		return map[string]any{"resource": r}
	}
	return Unknown
}

// assetValue keeps a text asset's text: config files are what reviewers
// want to read in a plan diff. The hash is of the text, so it is stable.
func assetValue(a *asset.Asset) map[string]any {
	switch {
	case a.IsText():
		sum := sha256.Sum256([]byte(a.Text))
		return map[string]any{"hash": hex.EncodeToString(sum[:]), "text": a.Text}
	case a.IsPath():
		return map[string]any{"path": a.Path}
	case a.IsURI():
		return map[string]any{"uri": a.URI}
	}
	return map[string]any{"hash": a.Hash}
}

func archiveValue(a *archive.Archive) map[string]any {
	switch {
	case a.IsAssets():
		assets := map[string]any{}
		keys := make([]string, 0, len(a.Assets))
		for k := range a.Assets {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			switch e := a.Assets[k].(type) {
			case *asset.Asset:
				assets[k] = map[string]any{"asset": assetValue(e)}
			case *archive.Archive:
				assets[k] = map[string]any{"archive": archiveValue(e)}
			default:
				assets[k] = Unknown
			}
		}
		return map[string]any{"assets": assets}
	case a.IsPath():
		return map[string]any{"path": a.Path}
	case a.IsURI():
		return map[string]any{"uri": a.URI}
	}
	return map[string]any{"hash": a.Hash}
}
