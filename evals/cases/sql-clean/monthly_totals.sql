-- Revenue per month for paid invoices.
SELECT date_trunc('month', paid_at) AS month,
       sum(amount_cents) / 100.0 AS revenue
FROM invoices
WHERE status = 'paid'
GROUP BY 1
ORDER BY 1;
