// Test processes never print logs unless asked.
process.env['CERTBOUND_LOG_LEVEL'] ??= 'silent';
