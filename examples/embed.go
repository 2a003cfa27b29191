// Package examples embeds emac's example specs so that `emac demo` runs
// with no files and no setup. The checkout example is the paper's artifact
// (see checkout/SOURCE and checkout/LICENSE).
package examples

import "embed"

// FS holds the example specs and the SLO files they refer to.
//
//go:embed checkout/spec checkout/atomic native
var FS embed.FS

// Checkout is the path of the paper's checkout spec within FS.
const Checkout = "checkout/spec/emac.checkout.yaml"
