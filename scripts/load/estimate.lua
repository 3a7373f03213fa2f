-- wrk: POST /api/estimate with a GPT-2 decode scenario.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"version":1,"model":{"preset":"gpt2"},"stages":[{"kind":"deployment","workload":{"phase":"decode","precision":"bf16","batch":8,"prompt":128,"new_tokens":128},"requests_per_day":10000,"days":30}],"hardware":{"device":"h100-sxm","count":1},"infrastructure":{"pue":1.2,"region":"FR"}}'

