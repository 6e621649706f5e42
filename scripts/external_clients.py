"""Read the sandbox with the official clients only: no keyfolio import.

Run it from a virtualenv that has ccxt and python-okx but NOT keyfolio, against a sandbox
started with `keyfolio sandbox --state src/keyfolio/sandbox/example_state.json --port 0`:

    python scripts/external_clients.py http://127.0.0.1:PORT APIKEY SECRET PASSPHRASE

`scripts/external_clients.sh` does all of that in a fresh venv.
"""

import sys

import ccxt
from okx import Account, Funding
from okx.Finance import Savings
from okx import Trade

url, key, secret, passphrase = sys.argv[1:5]

print("python-okx")
account = Account.AccountAPI(key, secret, passphrase, flag="0", domain=url, debug=False)
funding = Funding.FundingAPI(key, secret, passphrase, flag="0", domain=url, debug=False)
savings = Savings.SavingsAPI(key, secret, passphrase, flag="0", domain=url, debug=False)
trade = Trade.TradeAPI(key, secret, passphrase, flag="0", domain=url, debug=False)
for name, result in [
    ("account config", account.get_account_config()),
    ("trading balance", account.get_account_balance()),
    ("funding balance", funding.get_balances()),
    ("savings", savings.get_saving_balance()),
    ("fills", trade.get_fills_history(instType="SPOT")),
]:
    assert result["code"] == "0", (name, result)
    print(f"  {name}: code 0, {len(result['data'])} item(s)")

print(f"ccxt {ccxt.__version__}")
exchange = ccxt.okx(
    {
        "apiKey": key,
        "secret": secret,
        "password": passphrase,
        "enableRateLimit": False,
        "urls": {"api": {"rest": url}},
    }
)
trading = exchange.fetch_balance()
print("  fetch_balance():", {k: v for k, v in trading["total"].items() if v})
funding_balance = exchange.fetch_balance({"type": "funding"})
print("  fetch_balance(funding):", {k: v for k, v in funding_balance["total"].items() if v})
print("  fetch_my_trades:", len(exchange.fetch_my_trades("BTC/USDT")), "trade(s)")
print("  fetch_deposits:", len(exchange.fetch_deposits()), "deposit(s)")
print("OK: both official clients read the sandbox unchanged")
