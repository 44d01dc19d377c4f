-- wrk script for ci/bench-compare.sh measure (c): POST /attestation with a JSON nonce.
wrk.method = "POST"
wrk.body = '{"nonce":"00112233445566778899aabbccddeeff"}'
wrk.headers["Content-Type"] = "application/json"
